//! Opens arbitrary bytes as a compiled registry, checked (`from_bytes`) and unchecked (as
//! a mapped installed file whose checksum is trusted), then walks every record, name and
//! port of whatever opens: a damaged file must give an error, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portreg::CompiledRegistry;

fuzz_target!(|data: &[u8]| {
    if let Ok(registry) = CompiledRegistry::from_bytes(data) {
        portreg_fuzz::walk(&registry);
    }
    // Past the checksum, to reach the structure itself.
    let mut words = data.to_vec();
    words.truncate(data.len() / 4 * 4);
    if let Ok(registry) = CompiledRegistry::from_shared(words, false) {
        portreg_fuzz::walk(&registry);
    }
});
