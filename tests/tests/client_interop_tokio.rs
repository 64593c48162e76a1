//! The real npm `socket.io-client` against our server on tokio: every scenario over
//! websocket-only, polling-only and polling→websocket upgrade.

sio_tests::client_interop_suite!(sio_tests::Tokio;
    connect,
    handshake_details,
    echo_ack,
    multiple_arguments,
    server_asks_client_for_ack,
    server_ack_timeout,
    binary_both_ways,
    events_in_order,
    message_event,
    rooms,
    broadcast_excludes_sender,
    namespaces_multiplexed,
    invalid_namespace,
    middleware_rejects_with_data,
    auth_function_is_called,
    dynamic_namespace,
    server_disconnect,
    server_disconnect_with_close,
    client_disconnect_reason_and_disconnecting_rooms,
    fetch_sockets_and_sockets_join,
    broadcast_with_ack,
    on_any_and_middleware,
    volatile_ticks_arrive,
    reconnect_after_transport_close,
);
