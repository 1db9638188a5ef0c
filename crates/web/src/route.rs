//! From a request head to what the monitor will do: serve an endpoint (with its parameters
//! parsed) or refuse with a status. Pure (no sockets, no core), so every request path is unit
//! tested and fuzzed (`fuzz`, `patchbay_web::route::fuzz`) on its own.

use crate::auth::{self, Verdict};
use crate::http::{self, Request, Status};
use crate::options::Auth;

/// Channels one request or stream may ask for.
pub const MAX_CHANNELS: usize = 512;

/// What a request asks for, parameters checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Index,
    Script,
    Style,
    Status,
    Instances {
        offset: usize,
        limit: usize,
    },
    Universe {
        instance: String,
    },
    Sources,
    Counters {
        offset: usize,
        limit: usize,
    },
    Warnings {
        since: u64,
    },
    Graph {
        offset: usize,
        limit: usize,
    },
    Channels {
        offset: usize,
        limit: usize,
    },
    Values {
        channels: Vec<u32>,
    },
    Events {
        universe: Option<String>,
        channels: Vec<u32>,
    },
    /// `POST /api/reload`: read the configuration file again.
    Reload,
}

/// The decision about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve it; `set_cookie`: the token came as `?token=`, answer with the cookie.
    Serve {
        endpoint: Endpoint,
        set_cookie: bool,
    },
    /// Refuse it. `denied`: for lack of credentials (counted apart from bad requests).
    Refuse {
        status: Status,
        header: Option<&'static str>,
        message: String,
        denied: bool,
    },
}

fn refuse(status: Status, message: impl Into<String>) -> Decision {
    Decision::Refuse {
        status,
        header: None,
        message: message.into(),
        denied: false,
    }
}

/// Decides what to do with `req` under `auth`.
pub fn decide(req: &Request<'_>, auth: &Auth) -> Decision {
    // The one action, reload, is a POST; everything else only reads.
    let post = req.method == "POST";
    if !post && req.method != "GET" {
        return Decision::Refuse {
            status: Status::MethodNotAllowed,
            header: Some("Allow: GET, POST"),
            message: "only GET, and POST to /api/reload".into(),
            denied: false,
        };
    }
    if post != (req.path == RELOAD) {
        let (header, message) = if post {
            ("Allow: GET", "only GET here (POST is for /api/reload)")
        } else {
            (
                "Allow: POST",
                "POST to /api/reload to reload the configuration",
            )
        };
        return Decision::Refuse {
            status: Status::MethodNotAllowed,
            header: Some(header),
            message: message.into(),
            denied: false,
        };
    }
    // A page of another site may make the browser POST here (a form needs no permission):
    // its Origin then names that site. Tools (curl) send none.
    if post && req.origin.is_some_and(|o| !same_origin(o, req.host)) {
        return Decision::Refuse {
            status: Status::Forbidden,
            header: None,
            message: "a reload must come from this monitor's own page (Origin differs from Host)"
                .into(),
            denied: true,
        };
    }
    if req.has_body {
        return refuse(Status::PayloadTooLarge, "requests have no body");
    }
    let q = req.query;
    let set_cookie = match auth::check(
        auth,
        req.host,
        req.authorization,
        req.cookie,
        http::query_param(q, "token"),
    ) {
        Verdict::Allow { set_cookie } => set_cookie,
        Verdict::ForeignHost => {
            return Decision::Refuse {
                status: Status::Forbidden,
                header: None,
                message: "this monitor answers requests for 127.0.0.1, localhost or [::1] only \
                          (set a token in [backend web] to use other names)"
                    .into(),
                denied: true,
            };
        }
        Verdict::Deny if auth.user.is_some() => {
            return Decision::Refuse {
                status: Status::Unauthorized,
                header: Some("WWW-Authenticate: Basic realm=\"patchbay\", charset=\"UTF-8\""),
                message: "credentials required".into(),
                denied: true,
            };
        }
        Verdict::Deny => {
            return Decision::Refuse {
                status: Status::Unauthorized,
                header: Some("WWW-Authenticate: Bearer realm=\"patchbay\""),
                message: "add ?token=... to the URL (the token of [backend web])".into(),
                denied: true,
            };
        }
    };
    let page = |default: usize| -> Result<(usize, usize), Decision> {
        let n = |name| {
            http::query_number(q, name, if name == "limit" { default } else { 0 })
                .ok_or_else(|| refuse(Status::BadRequest, format!("{name} must be a number")))
        };
        Ok((n("offset")?, n("limit")?))
    };
    let endpoint = match req.path {
        "/" | "/index.html" => Endpoint::Index,
        "/app.js" => Endpoint::Script,
        "/app.css" => Endpoint::Style,
        "/api/status" => Endpoint::Status,
        "/api/instances" => match page(crate::api::INSTANCE_PAGE) {
            Ok((offset, limit)) => Endpoint::Instances { offset, limit },
            Err(d) => return d,
        },
        "/api/universe" => match name_param(q, "instance") {
            Ok(Some(instance)) => Endpoint::Universe { instance },
            Ok(None) => return refuse(Status::BadRequest, "universe?instance=NAME"),
            Err(d) => return d,
        },
        "/api/sources" => Endpoint::Sources,
        "/api/counters" => match page(crate::api::COUNTER_PAGE) {
            Ok((offset, limit)) => Endpoint::Counters { offset, limit },
            Err(d) => return d,
        },
        "/api/warnings" => match http::query_number(q, "since", 0) {
            Some(since) => Endpoint::Warnings {
                since: since as u64,
            },
            None => return refuse(Status::BadRequest, "since must be a number"),
        },
        "/api/graph" => match page(crate::api::EDGE_PAGE) {
            Ok((offset, limit)) => Endpoint::Graph { offset, limit },
            Err(d) => return d,
        },
        "/api/channels" => match page(crate::api::CHANNEL_PAGE) {
            Ok((offset, limit)) => Endpoint::Channels { offset, limit },
            Err(d) => return d,
        },
        "/api/values" => match channels_param(q) {
            Ok(channels) => Endpoint::Values { channels },
            Err(d) => return d,
        },
        "/api/events" => {
            let universe = match name_param(q, "universe") {
                Ok(u) => u.filter(|u| !u.is_empty()),
                Err(d) => return d,
            };
            match channels_param(q) {
                Ok(channels) => Endpoint::Events { universe, channels },
                Err(d) => return d,
            }
        }
        RELOAD => Endpoint::Reload,
        _ => return refuse(Status::NotFound, "no such page"),
    };
    Decision::Serve {
        endpoint,
        set_cookie,
    }
}

/// The path of the reload action.
pub const RELOAD: &str = "/api/reload";

/// Whether `origin` (`http://host:port`) names the host the request was sent to.
fn same_origin(origin: &[u8], host: Option<&[u8]>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let rest = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"));
    rest.is_some_and(|r| r.trim_ascii().eq_ignore_ascii_case(host.trim_ascii()))
}

/// A percent-encoded name parameter.
fn name_param(q: &str, name: &str) -> Result<Option<String>, Decision> {
    match http::query_param(q, name) {
        None => Ok(None),
        Some(raw) => http::percent_decode(raw)
            .map(Some)
            .ok_or_else(|| refuse(Status::BadRequest, format!("{name}: bad percent-encoding"))),
    }
}

/// `channels=ID,ID,...` (ids from `/api/graph` or `/api/channels`), at most [`MAX_CHANNELS`].
fn channels_param(q: &str) -> Result<Vec<u32>, Decision> {
    let Some(raw) = http::query_param(q, "channels").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let raw = http::percent_decode(raw)
        .ok_or_else(|| refuse(Status::BadRequest, "channels: bad percent-encoding"))?;
    let mut ids = Vec::new();
    for part in raw.split(',') {
        let id = part.trim().parse::<u32>().map_err(|_| {
            refuse(
                Status::BadRequest,
                format!("channels: '{part}' is not a channel id (see /api/channels)"),
            )
        })?;
        if ids.len() == MAX_CHANNELS {
            return Err(refuse(
                Status::BadRequest,
                format!("channels: at most {MAX_CHANNELS}"),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The fuzz target's path (`fuzz/fuzz_targets/web_request.rs`, replayed by
/// `tests/fuzz_corpus.rs`): a request head parsed, decided under no credentials, a token and
/// user/password, and every refusal rendered. Checks that a decision is always made and every
/// response is well-formed and bounded. Returns how many requests were complete (so a replay
/// can tell the seeds were really parsed).
pub fn fuzz(data: &[u8]) -> usize {
    let Ok(Some(req)) = http::parse(data) else {
        return 0;
    };
    let auths = [
        Auth::default(),
        Auth {
            token: Some("0123456789abcdef".into()),
            ..Auth::default()
        },
        Auth {
            user: Some("tech".into()),
            password: Some("secret".into()),
            ..Auth::default()
        },
    ];
    for auth in &auths {
        match decide(&req, auth) {
            Decision::Serve { endpoint, .. } => {
                if let Endpoint::Values { channels } | Endpoint::Events { channels, .. } = endpoint
                {
                    assert!(channels.len() <= MAX_CHANNELS);
                }
            }
            Decision::Refuse {
                status,
                header,
                message,
                ..
            } => {
                assert_ne!(status, Status::Ok);
                let mut out = Vec::new();
                http::error(&mut out, status, header.as_slice(), &message);
                assert!(out.starts_with(b"HTTP/1.1 "));
                assert!(out.len() < 4096 + message.len());
            }
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Decision {
        decide(
            &http::parse(text.as_bytes()).unwrap().unwrap(),
            &Auth::default(),
        )
    }

    fn get(path: &str) -> Decision {
        req(&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n\r\n"
        ))
    }

    fn status(d: &Decision) -> Option<Status> {
        match d {
            Decision::Refuse { status, .. } => Some(*status),
            Decision::Serve { .. } => None,
        }
    }

    #[test]
    fn reload_is_a_post_from_a_tool_or_this_monitor_only() {
        let serve = Decision::Serve {
            endpoint: Endpoint::Reload,
            set_cookie: false,
        };
        let post = |headers: &str| {
            req(&format!(
                "POST /api/reload HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n{headers}\r\n"
            ))
        };
        assert_eq!(post(""), serve);
        assert_eq!(post("Content-Length: 0\r\n"), serve);
        assert_eq!(post("Origin: http://127.0.0.1:9090\r\n"), serve);
        assert_eq!(
            status(&post("Origin: http://evil.example\r\n")),
            Some(Status::Forbidden)
        );
        assert_eq!(status(&post("Origin: null\r\n")), Some(Status::Forbidden));
        assert_eq!(status(&get("/api/reload")), Some(Status::MethodNotAllowed));
        assert_eq!(
            status(&req("PUT /api/reload HTTP/1.1\r\nHost: localhost\r\n\r\n")),
            Some(Status::MethodNotAllowed)
        );
        // The same credentials as every other page.
        let auth = Auth {
            token: Some("s3cret".into()),
            ..Auth::default()
        };
        let with = |q: &str| {
            let text = format!("POST /api/reload{q} HTTP/1.1\r\nHost: 10.0.0.1:9090\r\n\r\n");
            decide(&http::parse(text.as_bytes()).unwrap().unwrap(), &auth)
        };
        assert_eq!(status(&with("")), Some(Status::Unauthorized));
        assert!(matches!(with("?token=s3cret"), Decision::Serve { .. }));
    }

    #[test]
    fn endpoints_and_their_parameters() {
        let serve = |endpoint| Decision::Serve {
            endpoint,
            set_cookie: false,
        };
        assert_eq!(get("/"), serve(Endpoint::Index));
        assert_eq!(
            get("/api/instances?offset=5"),
            serve(Endpoint::Instances {
                offset: 5,
                limit: crate::api::INSTANCE_PAGE
            })
        );
        assert_eq!(
            get("/api/universe?instance=desk%20in"),
            serve(Endpoint::Universe {
                instance: "desk in".into()
            })
        );
        assert_eq!(
            get("/api/events?universe=in&channels=1,%202,3"),
            serve(Endpoint::Events {
                universe: Some("in".into()),
                channels: vec![1, 2, 3]
            })
        );
        assert_eq!(
            get("/api/events?universe="),
            serve(Endpoint::Events {
                universe: None,
                channels: vec![]
            })
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_right_status() {
        assert_eq!(status(&get("/nope")), Some(Status::NotFound));
        assert_eq!(status(&get("/api/graph?limit=x")), Some(Status::BadRequest));
        assert_eq!(
            status(&get("/api/values?channels=1,a")),
            Some(Status::BadRequest)
        );
        assert_eq!(status(&get("/api/universe")), Some(Status::BadRequest));
        assert_eq!(
            status(&get("/api/universe?instance=%ff")),
            Some(Status::BadRequest)
        );
        let many: Vec<String> = (0..=MAX_CHANNELS).map(|i| i.to_string()).collect();
        assert_eq!(
            status(&get(&format!("/api/values?channels={}", many.join(",")))),
            Some(Status::BadRequest)
        );
        assert_eq!(
            status(&req("POST / HTTP/1.1\r\nHost: localhost\r\n\r\n")),
            Some(Status::MethodNotAllowed)
        );
        assert_eq!(
            status(&req(
                "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"
            )),
            Some(Status::PayloadTooLarge)
        );
        assert_eq!(
            status(&req("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")),
            Some(Status::Forbidden)
        );
    }

    #[test]
    fn credentials_are_required_when_configured() {
        let auth = Auth {
            token: Some("0123456789abcdef".into()),
            ..Auth::default()
        };
        let d = |text: &str| decide(&http::parse(text.as_bytes()).unwrap().unwrap(), &auth);
        assert!(matches!(
            d("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            Decision::Refuse {
                status: Status::Unauthorized,
                denied: true,
                ..
            }
        ));
        assert_eq!(
            d("GET /?token=0123456789abcdef HTTP/1.1\r\nHost: anything\r\n\r\n"),
            Decision::Serve {
                endpoint: Endpoint::Index,
                set_cookie: true
            }
        );
        let basic = Auth {
            user: Some("u".into()),
            password: Some("p".into()),
            ..Auth::default()
        };
        let r = http::parse(b"GET / HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert!(matches!(
            decide(&r, &basic),
            Decision::Refuse {
                header: Some(h),
                ..
            } if h.starts_with("WWW-Authenticate: Basic")
        ));
    }

    #[test]
    fn fuzz_entry_takes_complete_heads_only() {
        assert_eq!(fuzz(b"GET /api/values?channels=1 HTTP/1.1\r\n\r\n"), 1);
        assert_eq!(fuzz(b"GET /api/values?channels=1 HTTP/1.1\r\n"), 0);
        assert_eq!(fuzz(b"\xff\xfe"), 0);
    }
}
