//! The stand-in for a backend this build leaves out (its cargo feature is off).
//!
//! Why a stand-in rather than leaving the name unknown: a configuration written for a full
//! build should fail on the line that uses the backend, saying how to get it, not with "no such
//! backend", which reads like a typo.

use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError,
};

/// A backend that is known by name but not compiled in: every option line and instance of it
/// is an error that names the cargo feature to rebuild with.
#[derive(Debug, Clone, Copy)]
pub struct NotCompiled {
    name: &'static str,
    feature: &'static str,
}

impl NotCompiled {
    /// The stand-in for backend `name`, compiled in by cargo feature `feature`.
    pub fn new(name: &'static str, feature: &'static str) -> Self {
        NotCompiled { name, feature }
    }

    fn error(&self) -> OptionError {
        OptionError::Other {
            at: Part::Key,
            message: format!(
                "backend '{}' is not compiled in: rebuild with --features {}",
                self.name, self.feature
            ),
        }
    }
}

impl Backend for NotCompiled {
    fn name(&self) -> &'static str {
        self.name
    }

    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
        Err(self.error())
    }

    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
        Err(self.error())
    }

    fn configure_instance(
        &mut self,
        _: InstanceId,
        _: &str,
        _: &str,
        _: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Err(self.error())
    }

    fn channel(
        &mut self,
        _: InstanceId,
        _: &str,
        _: Direction,
        _: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        Err(ChannelError {
            message: self.error().to_string(),
        })
    }

    fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
        Err(StartError::backend(self.error().to_string()))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::testing::Rig;

    #[test]
    fn every_use_says_which_feature_to_rebuild_with() {
        let mut rig = Rig::new(NotCompiled::new("midi", "midi-alsa"));
        let said = "backend 'midi' is not compiled in: rebuild with --features midi-alsa";
        let e = rig.configure("device", "x").unwrap_err();
        assert_eq!((e.part(), e.to_string()), (Part::Key, said.to_string()));
        let e = rig.add_instance("keys").unwrap_err();
        assert_eq!(e.to_string(), said);
        assert_eq!(rig.core().instance_names().count(), 0);
        assert_eq!(rig.backend().name(), "midi");
    }
}
