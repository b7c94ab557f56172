//! Transformations: every registered transformation, and chains of up to three, on arbitrary bytes. None may
//! panic or take more than linear time; the first bytes pick the chain, the rest is the value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_waf::transforms;

fuzz_target!(|data: &[u8]| {
    let Some((&picks, rest)) = data.split_first() else { return };
    let Some((&pick2, value)) = rest.split_first() else { return };
    let names: Vec<&str> = transforms::names().collect();
    let chain = [picks as usize % names.len(), pick2 as usize % names.len(), (picks >> 4) as usize % names.len()];
    let len = 1 + (pick2 as usize >> 6) % 3;
    let mut cur = value.to_vec();
    for &i in &chain[..len] {
        let t = transforms::lookup(names[i]).expect("every listed name resolves");
        cur = (t.apply)(&cur).into_owned();
    }
    // Each single transformation also runs on the raw value (the engine caches every prefix of a chain).
    for name in &names {
        let t = transforms::lookup(name).expect("every listed name resolves");
        let _ = (t.apply)(value);
    }
});
