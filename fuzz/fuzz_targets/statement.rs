//! Statement and challenge parsing. The statement parser accepts only RFC 8785 canonical
//! input, so whatever it accepts must re-serialize to exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_wire::challenge::Challenge;
use tokenconfirm_wire::statement::Statement;

fuzz_target!(|data: &[u8]| {
    if let Ok(statement) = Statement::from_signed_bytes(data) {
        assert_eq!(
            statement.to_canonical_bytes(),
            data,
            "accepted statement is not byte-identical to its canonical form"
        );
    }
    if let Ok(challenge) = Challenge::from_json(data) {
        // Any challenge the parser accepts must yield a statement that the statement parser
        // accepts back unchanged (what the agent signs, the server can read).
        let origin = challenge.origin.clone();
        let statement = Statement::new(challenge, origin, data);
        let bytes = statement.to_canonical_bytes();
        match Statement::from_signed_bytes(&bytes) {
            Ok(back) => assert_eq!(back, statement, "statement changed in a round trip"),
            Err(e) => panic!("canonical statement rejected: {e}"),
        }
    }
});
