//! The client's cookie jar (socket.io-client's `withCredentials` in Node): the cookies the
//! server side sets, sent back on every later request of the same manager. A load balancer
//! that keeps a session on one server with a cookie (nginx's `sticky-cookie.conf` in
//! `deploy/nginx/`) needs it for long-polling.
//!
//! As Node's client does, the jar keeps names, values and expiry (`Max-Age`, `Expires`) and
//! sends every live cookie to the one server it talks to; `Domain`, `Path` and `Secure` are not
//! consulted.

use std::time::{Duration, SystemTime};

/// The cookies of one manager.
#[derive(Debug, Default)]
pub(crate) struct CookieJar {
    cookies: Vec<Cookie>,
}

#[derive(Debug)]
struct Cookie {
    name: String,
    value: String,
    expires: Option<SystemTime>,
}

/// Bound on the cookies kept: a server setting more replaces the oldest.
const MAX_COOKIES: usize = 64;

impl CookieJar {
    /// Takes in one `Set-Cookie` header value (a malformed one is ignored).
    pub(crate) fn set(&mut self, header: &str, now: SystemTime) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let mut expires = None;
        let mut max_age = None;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("max-age") {
                max_age = v.parse::<i64>().ok();
            } else if k.eq_ignore_ascii_case("expires") {
                expires = httpdate::parse_http_date(v).ok();
            }
        }
        // `Max-Age` wins over `Expires`; zero or less deletes the cookie.
        let expires = match max_age {
            Some(s) if s <= 0 => Some(SystemTime::UNIX_EPOCH),
            Some(s) => now.checked_add(Duration::from_secs(s.unsigned_abs())),
            None => expires,
        };
        self.cookies.retain(|c| c.name != name);
        if expires.is_some_and(|e| e <= now) {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(Cookie {
            name: name.to_owned(),
            value: value.trim().to_owned(),
            expires,
        });
    }

    /// The `Cookie` header for a request (`None` when the jar holds no live cookie).
    pub(crate) fn header(&mut self, now: SystemTime) -> Option<String> {
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        if self.cookies.is_empty() {
            return None;
        }
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        Some(pairs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_kept_replaced_and_expired() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut jar = CookieJar::default();
        assert_eq!(jar.header(now), None);
        jar.set("sio_node=a:1; Path=/; HttpOnly", now);
        jar.set("io=abc; Max-Age=10", now);
        assert_eq!(jar.header(now).as_deref(), Some("sio_node=a:1; io=abc"));
        // Replaced, then gone when it expires.
        jar.set("sio_node=b:2", now);
        assert_eq!(jar.header(now).as_deref(), Some("io=abc; sio_node=b:2"));
        let later = now + Duration::from_secs(11);
        assert_eq!(jar.header(later).as_deref(), Some("sio_node=b:2"));
        // Deleted by a past date or a zero Max-Age; malformed ones ignored.
        jar.set("sio_node=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT", later);
        jar.set("garbage", later);
        jar.set("=novalue", later);
        assert_eq!(jar.header(later), None);
        jar.set("k=v; Expires=Wed, 21 Oct 2099 07:28:00 GMT", later);
        jar.set("k2=v2; max-age=0", later);
        assert_eq!(jar.header(later).as_deref(), Some("k=v"));
        for i in 0..100 {
            jar.set(&format!("c{i}=v"), later);
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
    }
}
