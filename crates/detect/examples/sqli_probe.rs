fn main() {
    for a in std::env::args().skip(1) {
        println!("{a:?} => {:?}", portcullis_detect::sqli::detect(a.as_bytes()));
    }
}
