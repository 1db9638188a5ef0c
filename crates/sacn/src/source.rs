//! Sans-IO sACN source: decides when each data, sync and discovery packet goes out.
