//! Turning the web monitor on: `[backend web]` (read by setup) and `--web`, then the listener
//! attached to the core as its observer (`patchbay_web`).

use patchbay_core::Core;
use patchbay_web::{Monitor, Options, RecentLog};

/// The monitor's options from the configuration's `[backend web]` and the `--web` flag (which
/// turns it on and sets its bind); `None` when neither asks for it. `Err`: what is wrong with
/// the flag, ready to print.
pub fn options(configured: Option<Options>, flag: Option<&str>) -> Result<Option<Options>, String> {
    let Some(flag) = flag else {
        return Ok(configured);
    };
    let mut opts = configured.unwrap_or_default();
    opts.bind =
        patchbay_web::options::parse_listen("--web", flag).map_err(|e| format!("--web: {e}"))?;
    if let Some(p) = opts.validate().into_iter().next() {
        return Err(format!("--web {flag}: {}", p.message));
    }
    Ok(Some(opts))
}

/// Binds the monitor and installs it in `core` (before `Core::start`). Returns the URL to
/// open. `Err`: why it cannot listen, ready to print.
pub fn attach(core: &mut Core, opts: Options) -> Result<String, String> {
    let bind = opts.bind;
    let monitor = Monitor::bind(opts, RecentLog::global().clone())
        .map_err(|e| format!("web monitor: cannot listen on {bind}: {e}"))?;
    let url = monitor.url();
    let mut monitor = monitor;
    monitor.set_reload(core.reload_handle());
    core.set_observer(Box::new(monitor));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_turns_the_monitor_on_and_is_checked() {
        assert_eq!(options(None, None), Ok(None));
        let o = options(None, Some("9191")).unwrap().unwrap();
        assert_eq!(o.bind.to_string(), "127.0.0.1:9191");
        let e = options(None, Some("0.0.0.0:9090")).unwrap_err();
        assert!(
            e.starts_with("--web 0.0.0.0:9090: the web monitor would be open"),
            "{e}"
        );
        let mut with_token = Options::default();
        with_token.configure("token", "0123456789abcdefgh").unwrap();
        assert!(options(Some(with_token), Some("0.0.0.0:9090")).is_ok());
        assert!(
            options(None, Some("nine"))
                .unwrap_err()
                .starts_with("--web: invalid value")
        );
    }
}
