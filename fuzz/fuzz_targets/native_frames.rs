//! The input is a byte stream from the browser: native-messaging frames (4-byte native-endian
//! length + body). Every frame is parsed as a request; `sign` requests go through the
//! pre-token checks; parse failures are turned into the reply the host would send, which must
//! fit in one frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokenconfirm_agent::native::framing::read_frame;
use tokenconfirm_agent::native::host::encode_reply;
use tokenconfirm_agent::sign::{check_request, SignRequest};
use tokenconfirm_wire::native::{Command, ErrorBody, Reply, Request, MAX_FRAME_BYTES};

/// One runtime for the whole process (cheaper than building one per input).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("building the tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let mut input: &[u8] = data;
        while let Ok(body) = read_frame(&mut input).await {
            match Request::parse(&body) {
                Ok(request) => {
                    if let Command::Sign(p) = &request.command {
                        let _ = check_request(&SignRequest {
                            challenge: p.challenge.clone(),
                            origin: p.origin.clone(),
                            certificate: Some(p.certificate_id.clone()),
                            lang: p.lang,
                        });
                    }
                }
                Err(e) => {
                    let reply =
                        Reply::failure(e.id, ErrorBody::new(e.code, Some(&e.detail), None));
                    let encoded = encode_reply(&reply);
                    assert!(
                        encoded.len() <= MAX_FRAME_BYTES,
                        "error reply of {} bytes exceeds MAX_FRAME_BYTES",
                        encoded.len()
                    );
                    assert!(!encoded.is_empty(), "error reply encoded to an empty frame");
                }
            }
        }
    });
});
