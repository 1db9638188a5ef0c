//! Who may look: the token or user/password of [`Auth`], and the host check that keeps other
//! web sites out of a monitor on loopback.
//!
//! A token is accepted as `Authorization: Bearer TOKEN`, as `?token=TOKEN` (the URL a user
//! opens) or as the cookie the monitor sets when it sees `?token=` (so the page's own requests
//! and its event stream, which cannot send headers, carry it). User and password are HTTP Basic
//! (the browser asks). Secrets are compared in constant time.
//!
//! Why a host check without credentials: a web page elsewhere can make the browser fetch
//! `http://127.0.0.1:9090/` under a name it controls (DNS rebinding) and read the answer. Such
//! requests name the attacker's host in `Host`; a monitor without credentials only answers
//! requests for `127.0.0.1`, `localhost` or `[::1]`.

use crate::options::Auth;

/// The cookie that carries a token.
pub const COOKIE: &str = "patchbay_token";

/// What the credentials check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through; `set_cookie`: the token came in the query, answer with the cookie.
    Allow { set_cookie: bool },
    /// No or wrong credentials (401).
    Deny,
    /// No credentials configured and a `Host` that is not loopback (403).
    ForeignHost,
}

/// Checks one request's credentials.
pub fn check(
    auth: &Auth,
    host: Option<&[u8]>,
    authorization: Option<&[u8]>,
    cookie: Option<&[u8]>,
    query_token: Option<&str>,
) -> Verdict {
    if !auth.required() {
        return if host.is_some_and(is_loopback_host) {
            Verdict::Allow { set_cookie: false }
        } else {
            Verdict::ForeignHost
        };
    }
    if let Some(token) = auth.token.as_deref() {
        let header = authorization.and_then(|h| strip_prefix_ci(h, b"Bearer "));
        if header.is_some_and(|t| ct_eq(t.trim_ascii(), token.as_bytes())) {
            return Verdict::Allow { set_cookie: false };
        }
        if query_token.is_some_and(|t| ct_eq(t.as_bytes(), token.as_bytes())) {
            return Verdict::Allow { set_cookie: true };
        }
        if cookie
            .and_then(|c| cookie_value(c, COOKIE))
            .is_some_and(|t| ct_eq(t, token.as_bytes()))
        {
            return Verdict::Allow { set_cookie: false };
        }
    }
    if let (Some(user), Some(password)) = (auth.user.as_deref(), auth.password.as_deref())
        && let Some(b64) = authorization.and_then(|h| strip_prefix_ci(h, b"Basic "))
        && let Some(decoded) = base64_decode(b64.trim_ascii())
        && let Some(colon) = decoded.iter().position(|&b| b == b':')
    {
        // Both halves are compared, whatever the first says, so timing tells nothing.
        let u = ct_eq(&decoded[..colon], user.as_bytes());
        let p = ct_eq(&decoded[colon + 1..], password.as_bytes());
        if u & p {
            return Verdict::Allow { set_cookie: false };
        }
    }
    Verdict::Deny
}

/// Whether a `Host` header names this machine's loopback (any port).
fn is_loopback_host(host: &[u8]) -> bool {
    let host = host.trim_ascii();
    let name = if let Some(rest) = host.strip_prefix(b"[") {
        match rest.iter().position(|&b| b == b']') {
            Some(end) => &rest[..end],
            None => return false,
        }
    } else {
        match host.iter().rposition(|&b| b == b':') {
            Some(colon) => &host[..colon],
            None => host,
        }
    };
    name.eq_ignore_ascii_case(b"localhost")
        || name == b"::1"
        || std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

fn strip_prefix_ci<'a>(h: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = h.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &h[prefix.len()..])
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie_value<'a>(header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    header.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        (&pair[..eq] == name.as_bytes()).then(|| &pair[eq + 1..])
    })
}

/// Equal contents, in a time that depends only on the lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// Standard base64 with or without padding (what browsers send for Basic); `None` for
/// anything else. At most 1 KiB of input.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() > 1024 {
        return None;
    }
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token_auth() -> Auth {
        Auth {
            token: Some("0123456789abcdef".into()),
            ..Auth::default()
        }
    }

    #[test]
    fn without_credentials_only_loopback_hosts_are_answered() {
        let none = Auth::default();
        for host in [
            &b"127.0.0.1:9090"[..],
            b"localhost",
            b"LOCALHOST:80",
            b"[::1]:9090",
            b"127.3.4.5",
        ] {
            assert_eq!(
                check(&none, Some(host), None, None, None),
                Verdict::Allow { set_cookie: false },
                "{}",
                String::from_utf8_lossy(host)
            );
        }
        for host in [
            &b"evil.example"[..],
            b"evil.example:9090",
            b"10.0.0.1:9090",
            b"[::2]:1",
            b"[::1",
        ] {
            assert_eq!(
                check(&none, Some(host), None, None, None),
                Verdict::ForeignHost
            );
        }
        assert_eq!(check(&none, None, None, None, None), Verdict::ForeignHost);
    }

    #[test]
    fn tokens_by_header_query_or_cookie() {
        let a = token_auth();
        let ok = Verdict::Allow { set_cookie: false };
        assert_eq!(
            check(&a, None, Some(b"Bearer 0123456789abcdef"), None, None),
            ok
        );
        assert_eq!(
            check(&a, None, Some(b"bearer 0123456789abcdef "), None, None),
            ok
        );
        assert_eq!(
            check(&a, None, None, None, Some("0123456789abcdef")),
            Verdict::Allow { set_cookie: true }
        );
        assert_eq!(
            check(
                &a,
                None,
                None,
                Some(b"x=1; patchbay_token=0123456789abcdef"),
                None
            ),
            ok
        );
        for wrong in [
            &b"Bearer 0123456789abcdeF"[..],
            b"Bearer ",
            b"Basic abc",
            b"0123456789abcdef",
        ] {
            assert_eq!(check(&a, None, Some(wrong), None, None), Verdict::Deny);
        }
        assert_eq!(
            check(&a, None, None, Some(b"patchbay_token=nope"), None),
            Verdict::Deny
        );
        assert_eq!(
            check(&a, None, None, None, Some("0123456789abcde")),
            Verdict::Deny
        );
        assert_eq!(
            check(&a, Some(b"localhost"), None, None, None),
            Verdict::Deny,
            "no free pass on loopback"
        );
    }

    #[test]
    fn basic_credentials() {
        let a = Auth {
            user: Some("tech".into()),
            password: Some("pa:ss".into()),
            ..Auth::default()
        };
        // "tech:pa:ss"
        assert_eq!(
            check(&a, None, Some(b"Basic dGVjaDpwYTpzcw=="), None, None),
            Verdict::Allow { set_cookie: false }
        );
        // "tech:pa:sx", "tech", garbage
        for wrong in [
            &b"Basic dGVjaDpwYTpzeA=="[..],
            b"Basic dGVjaA==",
            b"Basic !!!!",
        ] {
            assert_eq!(check(&a, None, Some(wrong), None, None), Verdict::Deny);
        }
        assert_eq!(check(&a, None, None, None, Some("tech")), Verdict::Deny);
    }

    #[test]
    fn base64_and_constant_time_equality() {
        assert_eq!(base64_decode(b"aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode(b"aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode(b"").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode(b"a"), None);
        assert_eq!(base64_decode(b"a-b_"), None);
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }

    proptest! {
        /// Base64 of any bytes decodes back to them; any input decodes or fails without panic.
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
            const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut enc = Vec::new();
            for chunk in bytes.chunks(3) {
                let n = chunk.len();
                let v = (u32::from(chunk[0]) << 16)
                    | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*chunk.get(2).unwrap_or(&0));
                for i in 0..4 {
                    if i <= n {
                        enc.push(A[((v >> (18 - 6 * i)) & 63) as usize]);
                    } else {
                        enc.push(b'=');
                    }
                }
            }
            prop_assert_eq!(base64_decode(&enc), Some(bytes));
            let _ = base64_decode(&junk);
        }
    }
}
