#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| p2psec::fuzzing::pnet_layer(data));
