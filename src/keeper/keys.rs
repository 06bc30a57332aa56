//! tmux's key names, to refuse a name tmux would not know: `send-keys`
//! types an unknown name as text (`Entre` arrives as five letters), which
//! would be a silent wrong answer.
//!
//! A key is what tmux's `key_string_lookup_string` accepts (key-string.c,
//! the same in 3.2 to master): modifiers `C-`, `M-`, `S-` (any case, any
//! number), or a leading `^` for Ctrl, then one character, a name of the
//! table below (any case), or a key code in hex (`0x41`); or `None`/`Any`.

/// The named keys of tmux (without the mouse events, which make no sense
/// to send to a process).
pub const KEY_NAMES: &[&str] = &[
    "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "IC", "Insert",
    "DC", "Delete", "Home", "End", "NPage", "PageDown", "PgDn", "PPage", "PageUp", "PgUp", "Tab",
    "BTab", "Space", "BSpace", "Enter", "Escape", "Up", "Down", "Left", "Right", "KP/", "KP*",
    "KP-", "KP7", "KP8", "KP9", "KP+", "KP4", "KP5", "KP6", "KP1", "KP2", "KP3", "KPEnter", "KP0",
    "KP.",
];

/// Whether tmux knows `key`; if not, up to three names close to it, with
/// the modifiers it was given.
pub fn check(key: &str) -> Result<(), Vec<String>> {
    if key.eq_ignore_ascii_case("None") || key.eq_ignore_ascii_case("Any") {
        return Ok(());
    }
    if key.len() > 2 && key.starts_with("0x") && u32::from_str_radix(&key[2..], 16).is_ok() {
        return Ok(());
    }
    let mut rest = key;
    if let Some(after) = rest.strip_prefix('^').filter(|a| !a.is_empty()) {
        rest = after;
    }
    let mut prefix_len = key.len() - rest.len();
    loop {
        let b = rest.as_bytes();
        if b.len() >= 2 && b[1] == b'-' && matches!(b[0], b'C' | b'c' | b'M' | b'm' | b'S' | b's') {
            rest = &rest[2..];
            prefix_len += 2;
        } else {
            break;
        }
    }
    let known = rest.chars().count() == 1 || KEY_NAMES.iter().any(|n| n.eq_ignore_ascii_case(rest));
    if known {
        return Ok(());
    }
    let prefix = &key[..prefix_len];
    let mut candidates: Vec<(usize, String)> = KEY_NAMES
        .iter()
        .map(|n| {
            (
                distance(&rest.to_ascii_lowercase(), &n.to_ascii_lowercase()),
                n.to_string(),
            )
        })
        .collect();
    // `C-cc`: probably one character with its modifiers.
    if let Some(first) = rest.chars().next().filter(|_| !prefix.is_empty()) {
        candidates.push((rest.chars().count() - 1, first.to_string()));
    }
    // Closest first; on a tie, the single character (a doubled letter).
    candidates.sort_by_key(|(d, n)| (*d, n.chars().count() > 1, n.clone()));
    let limit = (rest.chars().count() / 2).max(2);
    Err(candidates
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, n)| format!("{prefix}{n}"))
        .collect())
}

/// Levenshtein distance (a transposition counts two).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_keys_are_known() {
        for key in [
            "Enter",
            "enter",
            "C-c",
            "c-C",
            "M-x",
            "S-Up",
            "C-M-S-Left",
            "^c",
            "^C",
            "a",
            "é",
            "F12",
            "KP.",
            "PgDn",
            "0x41",
            "None",
            "Any",
            ";",
            "-",
            "C--",
        ] {
            assert_eq!(check(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn unknown_names_get_close_ones() {
        assert_eq!(check("Entre").unwrap_err()[0], "Enter");
        assert_eq!(check("C-cc").unwrap_err()[0], "C-c");
        assert!(check("M-Uo").unwrap_err().contains(&"M-Up".to_string()));
        assert!(check("NotAKey").is_err());
        assert!(check("X-c").is_err());
        assert!(check("").is_err());
    }
}
