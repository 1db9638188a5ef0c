//! Tests of the lua backend through the rig.
