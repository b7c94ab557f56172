//! The echo upstream over real sockets, spoken to with the runner's own raw client.

use std::time::Duration;

use portcullis_crs_test::{client, EchoServer};

fn post_reflect(server: &EchoServer, json: &str) -> client::Response {
    let req = format!(
        "POST /reflect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{json}",
        json.len()
    );
    client::send(server.local_addr(), req.as_bytes(), Duration::from_secs(2)).unwrap()
}

#[test]
fn reflect_answers_with_the_requested_status_headers_and_body() {
    let server = EchoServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let r = post_reflect(
        &server,
        r#"{"status": 418, "headers": {"X-Leak": "yes", "Bad Name": "x"}, "body": "<?php echo 1; ?>"}"#,
    );
    assert_eq!(r.status, 418);
    assert_eq!(r.header("x-leak"), Some("yes"));
    assert_eq!(r.body, b"<?php echo 1; ?>");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"), "sniffed like albedo/Go");

    let r =
        post_reflect(&server, r#"{"encodedBody": "PGh0bWw+aGk8L2h0bWw+", "headers": {"Content-Type": "text/html"}}"#);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<html>hi</html>"[..]));
    assert_eq!(r.header("content-type"), Some("text/html"));

    assert_eq!(post_reflect(&server, "not json").status, 400);
    assert_eq!(post_reflect(&server, r#"{"status": 42}"#).status, 400);
    let empty = post_reflect(&server, "{}");
    assert_eq!((empty.status, empty.body.len()), (200, 0));
}

#[test]
fn everything_else_is_echoed() {
    let server = EchoServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let r = client::send(
        server.local_addr(),
        b"PUT /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"PUT /a?b=c\nhello");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    // GET /reflect is not a reflection request (albedo only reflects POST).
    let r =
        client::send(server.local_addr(), b"GET /reflect HTTP/1.1\r\nHost: x\r\n\r\n", Duration::from_secs(2)).unwrap();
    assert_eq!(r.body, b"GET /reflect\n");
    let addr = server.local_addr();
    server.shutdown();
    assert!(client::send(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_millis(300)).is_err());
}
