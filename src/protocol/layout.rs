//! Window layout strings, as in `%layout-change` and `#{window_layout}`.
//!
//! ```text
//! layout = CSUM "," cell
//! cell   = W "x" H "," X "," Y ( "," PANEID | "{" cell ("," cell)* "}" | "[" cell ("," cell)* "]" )
//! ```
//! `{}` splits left-right, `[]` top-bottom. CSUM is four hex digits of a
//! 16-bit checksum of everything after the first comma. Very old tmux wrote
//! leaves without a pane id; those parse with `pane: None`.

use super::error::ProtocolError;
use super::ids::PaneId;
use serde::{Deserialize, Serialize};

/// Nesting deeper than this is refused (a window cannot hold that many
/// splits; it protects the parser's stack from hostile input).
const MAX_DEPTH: usize = 256;

/// A parsed layout string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The checksum (verified).
    pub checksum: u16,
    /// The outermost cell.
    pub root: Cell,
}

/// One rectangle of a layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Width in columns.
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// A pane, or a split into children.
    pub kind: CellKind,
}

/// What a cell holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    /// A pane (its id, absent in layouts from very old tmux).
    Pane(Option<PaneId>),
    /// Children side by side (`{...}`).
    LeftRight(Vec<Cell>),
    /// Children stacked (`[...]`).
    TopBottom(Vec<Cell>),
}

impl Layout {
    /// Parse and verify a layout string.
    ///
    /// ```
    /// use tmux_wire::protocol::{Layout, PaneId};
    /// let l = Layout::parse("c196,80x24,0,0[80x12,0,0,0,80x11,0,13,3]").unwrap();
    /// let panes: Vec<_> = l.panes().iter().map(|c| (c.height, c.y)).collect();
    /// assert_eq!(panes, vec![(12, 0), (11, 13)]);
    /// ```
    pub fn parse(s: &str) -> Result<Layout, ProtocolError> {
        let bytes = s.as_bytes();
        let bad = |offset, reason: &'static str| ProtocolError::BadLayout {
            offset,
            reason: reason.into(),
        };
        let comma = bytes
            .iter()
            .position(|&b| b == b',')
            .ok_or(bad(0, "expected CHECKSUM,"))?;
        if comma != 4 || !bytes[..4].iter().all(u8::is_ascii_hexdigit) {
            return Err(bad(0, "expected four hex digits of checksum"));
        }
        let stated = u16::from_str_radix(&s[..4], 16).map_err(|_| bad(0, "bad checksum"))?;
        let body = &bytes[5..];
        let mut p = CellParser {
            s: body,
            at: 0,
            base: 5,
        };
        let root = p.cell(0)?;
        if p.at != body.len() {
            return Err(bad(5 + p.at, "unexpected bytes after the layout"));
        }
        let computed = checksum(body);
        if computed != stated {
            return Err(ProtocolError::LayoutChecksum { stated, computed });
        }
        Ok(Layout {
            checksum: stated,
            root,
        })
    }

    /// The pane cells, left to right and top to bottom as tmux lists them.
    pub fn panes(&self) -> Vec<&Cell> {
        fn walk<'a>(c: &'a Cell, out: &mut Vec<&'a Cell>) {
            match &c.kind {
                CellKind::Pane(_) => out.push(c),
                CellKind::LeftRight(kids) | CellKind::TopBottom(kids) => {
                    kids.iter().for_each(|k| walk(k, out))
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

/// tmux's layout checksum: rotate right by one, add the byte, mod 2^16.
pub fn checksum(body: &[u8]) -> u16 {
    body.iter().fold(0u16, |csum, &b| {
        ((csum >> 1) | ((csum & 1) << 15)).wrapping_add(u16::from(b))
    })
}

struct CellParser<'a> {
    s: &'a [u8],
    at: usize,
    /// Offset of `s` in the whole string, for error positions.
    base: usize,
}

impl CellParser<'_> {
    fn bad(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::BadLayout {
            offset: self.base + self.at,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), ProtocolError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.bad(reason))
        }
    }

    fn number(&mut self) -> Result<u32, ProtocolError> {
        match super::ids::parse_u32(&self.s[self.at..]) {
            Some((n, rest)) => {
                self.at = self.s.len() - rest.len();
                Ok(n)
            }
            None => Err(self.bad("expected a number")),
        }
    }

    fn cell(&mut self, depth: usize) -> Result<Cell, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(self.bad("layout nested too deeply"));
        }
        let width = self.number()?;
        self.expect(b'x', "expected 'x' between width and height")?;
        let height = self.number()?;
        self.expect(b',', "expected ',' before x offset")?;
        let x = self.number()?;
        self.expect(b',', "expected ',' before y offset")?;
        let y = self.number()?;
        let kind = match self.peek() {
            Some(open @ (b'{' | b'[')) => {
                self.at += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                let mut kids = vec![self.cell(depth + 1)?];
                while self.peek() == Some(b',') {
                    self.at += 1;
                    kids.push(self.cell(depth + 1)?);
                }
                self.expect(close, "expected the split to close")?;
                if open == b'{' {
                    CellKind::LeftRight(kids)
                } else {
                    CellKind::TopBottom(kids)
                }
            }
            // `,ID` unless the comma starts the next sibling cell (`,WxH,...`).
            Some(b',') if self.leaf_id_follows() => {
                self.at += 1;
                CellKind::Pane(Some(PaneId(self.number()?)))
            }
            _ => CellKind::Pane(None),
        };
        Ok(Cell {
            width,
            height,
            x,
            y,
            kind,
        })
    }

    /// After `,`: digits followed by something other than `x` is a pane id;
    /// digits followed by `x` begin the next cell (id-less old format).
    fn leaf_id_follows(&self) -> bool {
        let rest = &self.s[self.at + 1..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && rest.get(digits) != Some(&b'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_from_the_spec() {
        assert_eq!(checksum(b"80x24,0,0,0"), 0xb25d);
        assert_eq!(checksum(b"80x24,0,0{40x24,0,0,2,39x24,41,0,3}"), 0x820e);
    }

    #[test]
    fn single_pane() {
        let l = Layout::parse("b25d,80x24,0,0,0").unwrap();
        assert_eq!(
            l.root,
            Cell {
                width: 80,
                height: 24,
                x: 0,
                y: 0,
                kind: CellKind::Pane(Some(PaneId(0)))
            }
        );
    }

    #[test]
    fn nested_splits() {
        let body = "200x50,0,0{100x50,0,0[100x25,0,0,1,100x24,0,26,4],99x50,101,0,2}";
        let s = format!("{:04x},{body}", checksum(body.as_bytes()));
        let l = Layout::parse(&s).unwrap();
        let ids: Vec<_> = l.panes().iter().map(|c| c.kind.clone()).collect();
        assert_eq!(
            ids,
            vec![
                CellKind::Pane(Some(PaneId(1))),
                CellKind::Pane(Some(PaneId(4))),
                CellKind::Pane(Some(PaneId(2)))
            ]
        );
        let CellKind::LeftRight(kids) = &l.root.kind else {
            panic!()
        };
        assert!(matches!(kids[0].kind, CellKind::TopBottom(_)));
    }

    #[test]
    fn old_format_without_ids() {
        let body = "80x24,0,0{40x24,0,0,39x24,41,0}";
        let s = format!("{:04x},{body}", checksum(body.as_bytes()));
        let l = Layout::parse(&s).unwrap();
        assert_eq!(l.panes().len(), 2);
        assert!(l.panes().iter().all(|c| c.kind == CellKind::Pane(None)));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Layout::parse("b25e,80x24,0,0,0"),
            Err(ProtocolError::LayoutChecksum { .. })
        ));
        for bad in [
            "",
            "b25d",
            "zzzz,80x24,0,0,0",
            "b25d,80x24,0",
            "b25d,80x24,0,0{",
            "b25d,80x24,0,0,0]",
            "b25d,x",
        ] {
            assert!(Layout::parse(bad).is_err(), "{bad}");
        }
        let deep = format!("0000,{}", "1x1,0,0{".repeat(10_000));
        assert!(Layout::parse(&deep).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[0-9a-f]{4},[0-9x,{}\\[\\]]{0,60}") {
            let _ = Layout::parse(&s);
        }
    }
}
