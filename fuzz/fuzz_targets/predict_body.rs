//! Differential target for the predict body's fast path
//! (`falcon_server::fast_json`): whenever it decodes a body as
//! `{"text": …}`, `serde_json` (which decides every other body and every
//! error) must parse that body to the same text, and to nothing else.
//! Also: no panic, whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OnlyText {
    text: String,
}

fuzz_target!(|data: &[u8]| {
    if let Some(fast) = falcon_server::fast_json::single_text(data) {
        let general: OnlyText = serde_json::from_slice(data)
            .unwrap_or_else(|e| panic!("serde_json refuses a body the fast path took: {e}"));
        assert_eq!(general.text, fast, "the fast path decoded another text");
    }
});
