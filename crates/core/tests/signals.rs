//! Signal handling, in its own test binary because signals are process-wide.

use std::time::{Duration, Instant};

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Core, Delivery, Direction, Exit,
    FatalError, InstanceId, Io, OptionError, Ready, Sink, StartError,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::low_level::raise;

/// A backend that never completes its shutdown, so only a second signal or the grace period
/// ends the loop.
struct Stuck;

impl Backend for Stuck {
    fn name(&self) -> &'static str {
        "stuck"
    }
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
        Ok(())
    }
    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
        Ok(())
    }
    fn configure_instance(
        &mut self,
        _: InstanceId,
        _: &str,
        _: &str,
        _: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Ok(())
    }
    fn channel(
        &mut self,
        i: InstanceId,
        _: &str,
        _: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        Ok(ctx.ids.resolve(i, 0))
    }
    fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
        Ok(())
    }
    fn process(
        &mut self,
        _: Instant,
        _: &[Ready],
        _: &mut Io<'_>,
        _: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        Ok(())
    }
    fn handle(&mut self, _: Instant, _: InstanceId, _: &[Delivery], _: &mut Sink<'_>) {}
    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
    fn shutdown_complete(&self) -> bool {
        false
    }
}

#[test]
fn sighup_is_ignored_sigterm_shuts_down_and_a_second_signal_forces_the_exit() {
    let mut core = Core::new(vec![Box::new(Stuck)])
        .expect("core")
        .with_shutdown_grace(Duration::from_secs(60));
    core.add_instance(0, "s").expect("instance");
    core.listen_signals().expect("signals");
    core.start().expect("start");

    raise(SIGHUP).expect("raise");
    assert_eq!(core.turn(Some(Duration::from_secs(5))).expect("turn"), None);
    assert!(!core.is_shutting_down());

    raise(SIGTERM).expect("raise");
    assert_eq!(core.turn(Some(Duration::from_secs(5))).expect("turn"), None);
    assert!(core.is_shutting_down());

    raise(SIGINT).expect("raise");
    assert_eq!(
        core.turn(Some(Duration::from_secs(5))).expect("turn"),
        Some(Exit::Forced)
    );
}
