//! Format answers: any line, in any dialect, never panics; a line read as
//! N fields is read the same by a query of N fields, and by no other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::FormatQuery;

fuzz_target!(|data: &[u8]| {
    let Some((&n, line)) = data.split_first() else { return };
    let names: Vec<String> = (0..(n % 8) + 1).map(|i| format!("f{i}")).collect();
    let query = FormatQuery::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
    if let Ok(fields) = query.parse_line(line) {
        assert_eq!(fields.len(), query.len());
        let more: Vec<String> = (0..names.len() + 1).map(|i| format!("g{i}")).collect();
        let wider = FormatQuery::new(&more.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(wider.parse_line(line).is_err());
    }
});
