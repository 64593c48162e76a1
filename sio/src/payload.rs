//! TEMPORARY stub (replaced by the real module): JSON only, no binary.
use bytes::{Bytes, BytesMut, BufMut};
use serde::{de::DeserializeOwned, Serialize};

/// Error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(String);

/// Stub.
pub fn to_payload<T: Serialize + ?Sized>(event: Option<&str>, args: &T) -> Result<(Bytes, Vec<Bytes>), PayloadError> {
    let mut out = BytesMut::new();
    let a = write_payload(&mut out, event, args)?;
    Ok((out.freeze(), a))
}
/// Stub.
pub fn write_payload<T: Serialize + ?Sized>(out: &mut BytesMut, event: Option<&str>, args: &T) -> Result<Vec<Bytes>, PayloadError> {
    let v = serde_json::to_value(args).map_err(|e| PayloadError(e.to_string()))?;
    let mut arr = Vec::new();
    if let Some(e) = event { arr.push(serde_json::Value::from(e)); }
    arr.push(v);
    out.put_slice(&serde_json::to_vec(&arr).map_err(|e| PayloadError(e.to_string()))?);
    Ok(vec![])
}
/// Stub.
pub fn from_payload<T: DeserializeOwned>(json: &[u8], skip: usize, _attachments: &[Bytes]) -> Result<T, PayloadError> {
    let v: Vec<serde_json::Value> = serde_json::from_slice(json).map_err(|e| PayloadError(e.to_string()))?;
    let rest: Vec<_> = v.into_iter().skip(skip).collect();
    let v = if rest.len() == 1 { rest.into_iter().next().unwrap_or_default() } else { serde_json::Value::Array(rest) };
    serde_json::from_value(v).map_err(|e| PayloadError(e.to_string()))
}
