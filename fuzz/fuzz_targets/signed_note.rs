//! Signed notes and the statements they carry (manifests, grants, audit checkpoints): one parser each, strict and
//! canonical. Whatever decodes re-encodes to the same text, and no text is two kinds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::{Checkpoint, GrantNote, Manifest, SignedNote};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(note) = SignedNote::decode(text) {
        assert_eq!(note.encode(), text);
    }
    let manifest = Manifest::decode(text);
    if let Ok(m) = &manifest {
        assert_eq!(m.encode(), text);
    }
    let grant = GrantNote::decode(text);
    if let Ok(g) = &grant {
        assert_eq!(g.encode(), text);
    }
    let checkpoint = Checkpoint::decode(text);
    if let Ok(c) = &checkpoint {
        assert_eq!(c.encode(), text);
    }
    let kinds = [manifest.is_ok(), grant.is_ok(), checkpoint.is_ok()];
    assert!(kinds.iter().filter(|k| **k).count() <= 1, "one text, two kinds");
});
