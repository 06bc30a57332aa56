// Switches on the peers' part of the shared `benches/parse.rs`.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(peers)");
    println!("cargo::rustc-cfg=peers");
}
