//! End-to-end WebSocket test: the gateway passes the HTTP/1.1 Upgrade through to a WebSocket echo upstream
//! and then relays frames both ways until either side closes.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Gw;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket echo upstream; records the request path and headers of each handshake.
struct WsEcho {
    addr: SocketAddr,
    handshakes: Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>,
    closed: Arc<AtomicUsize>,
}

async fn ws_echo() -> WsEcho {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(AtomicUsize::new(0));
    let (h, c) = (handshakes.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (h, c) = (h.clone(), c.clone());
            tokio::spawn(async move {
                let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    h.lock().unwrap().push((req.uri().to_string(), headers));
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                while let Some(msg) = ws.next().await {
                    match msg {
                        Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                            if ws.send(m).await.is_err() {
                                break;
                            }
                        }
                        Ok(Message::Close(_)) => {
                            c.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
    WsEcho { addr, handshakes, closed }
}

async fn next_msg<S>(ws: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("no message within 10 s")
        .expect("stream ended")
        .expect("websocket error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_the_gateway() {
    let up = ws_echo().await;
    let gw = Gw::start(&common::config(&format!(
        r#"
[[upstreams]]
name = "ws"
targets = ["{}"]

[[routes]]
name = "ws"
upstream = "ws"
[routes.match]
path_prefix = "/ws"
"#,
        up.addr
    )));

    let url = format!("ws://{}/ws/chat?room=1", gw.addr("http"));
    let (mut ws, resp) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake timed out")
        .expect("handshake through the gateway failed");
    assert_eq!(resp.status(), 101);
    assert!(resp.headers().contains_key("sec-websocket-accept"));
    {
        let hs = up.handshakes.lock().unwrap();
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].0, "/ws/chat?room=1");
        let has = |name: &str| hs[0].1.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        assert!(has("sec-websocket-key") && has("upgrade"), "{:?}", hs[0].1);
        assert!(has("x-forwarded-for"), "{:?}", hs[0].1);
    }

    ws.send(Message::Text("hello through the gate".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Text("hello through the gate".into()));

    let bin: Vec<u8> = (0..=255u8).chain([0, 0xff, 0x80]).collect();
    ws.send(Message::Binary(bin.clone())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Binary(bin));

    // A larger message spanning many TCP segments, and several in a row.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::Binary(big.clone())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Binary(big));
    for i in 0..20 {
        ws.send(Message::Text(format!("msg {i}"))).await.unwrap();
    }
    for i in 0..20 {
        assert_eq!(next_msg(&mut ws).await, Message::Text(format!("msg {i}")));
    }

    // Ping is answered by the upstream (control frames pass through too).
    ws.send(Message::Ping(b"are you there".to_vec())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Pong(b"are you there".to_vec()));

    // Closing: the close handshake completes end to end and the stream ends.
    ws.close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got_close = false;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.expect("close did not complete") {
            Some(Ok(Message::Close(_))) => got_close = true,
            Some(Ok(other)) => panic!("unexpected message after close: {other:?}"),
            Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)) | None => break,
            Some(Err(e)) => panic!("close failed: {e}"),
        }
    }
    assert!(got_close, "the upstream's close frame never arrived");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while up.closed.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "the upstream never saw the close frame");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The gateway keeps serving new WebSocket sessions afterwards.
    let (mut ws2, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/again", gw.addr("http"))).await.unwrap();
    ws2.send(Message::Text("again".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws2).await, Message::Text("again".into()));
    ws2.close(None).await.unwrap();
}

/// A fresh CA and a leaf for `a.test`, as PEM files for the gateway plus the CA DER for the client.
fn test_pki() -> (CertificateDer<'static>, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(vec!["a.test".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    (ca.der().clone(), leaf.pem(), key.serialize_pem())
}

async fn echo_round_trip<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, what: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::Text(what.to_string())).await.unwrap();
    assert_eq!(next_msg(ws).await, Message::Text(what.to_string()));
    let bin: Vec<u8> = what.bytes().rev().collect();
    ws.send(Message::Binary(bin.clone())).await.unwrap();
    assert_eq!(next_msg(ws).await, Message::Binary(bin));
    ws.close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Some(m) = tokio::time::timeout_at(deadline, ws.next()).await.expect("close did not complete") {
        if m.is_err() {
            break;
        }
    }
}

/// WebSockets also work where the protocol is fixed to HTTP/1.1: over TLS (wss, ALPN http/1.1) and on a
/// plain listener with `h2c = false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_over_tls_and_on_h1_only_listeners() {
    let up = ws_echo().await;
    let (ca, cert_pem, key_pem) = test_pki();
    let gw = Gw::start_with_files(
        &common::config(&format!(
            r#"
[[listeners]]
name = "https"
address = "127.0.0.1:0"
tls = {{ certificates = [{{ cert = "{{dir}}/a.pem", key = "{{dir}}/a.key" }}] }}

[[listeners]]
name = "h1"
address = "127.0.0.1:0"
h2c = false

[[upstreams]]
name = "ws"
targets = ["{}"]

[[routes]]
name = "ws"
upstream = "ws"
[routes.match]
path_prefix = "/ws"
"#,
            up.addr
        )),
        &[("a.pem", cert_pem.as_bytes()), ("a.key", key_pem.as_bytes())],
    );

    // wss: TLS with ALPN http/1.1 (the WebSocket handshake is HTTP/1.1), then the upgrade over that stream.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(gw.addr("https")).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(rustls::pki_types::ServerName::try_from("a.test").unwrap(), tcp)
        .await
        .unwrap();
    let (mut wss, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(format!("wss://a.test:{}/ws/secure", gw.addr("https").port()), stream),
    )
    .await
    .expect("wss handshake timed out")
    .expect("wss handshake through the gateway failed");
    assert_eq!(resp.status(), 101);
    echo_round_trip(&mut wss, "over tls").await;
    {
        let hs = up.handshakes.lock().unwrap();
        let last = hs.last().unwrap();
        assert_eq!(last.0, "/ws/secure");
        let proto: Vec<&String> =
            last.1.iter().filter(|(k, _)| k.eq_ignore_ascii_case("x-forwarded-proto")).map(|(_, v)| v).collect();
        assert_eq!(proto, vec!["https"], "{:?}", last.1);
    }

    let (mut ws, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{}/ws/h1", gw.addr("h1"))),
    )
    .await
    .expect("ws handshake timed out")
    .expect("ws handshake on the h2c = false listener failed");
    assert_eq!(resp.status(), 101);
    echo_round_trip(&mut ws, "h1 only").await;
    assert_eq!(up.handshakes.lock().unwrap().len(), 2);
}

/// An upstream that answers the upgrade with a plain response, and an upstream that is down: the client gets
/// that response (or a 502) instead of a hang, and the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_refused_or_upstream_down() {
    let http_only = common::Upstream::start("plain").await;
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_addr = down.local_addr().unwrap();
    drop(down);
    let gw = Gw::start(&common::config(&format!(
        r#"
[[upstreams]]
name = "plain"
targets = ["{}"]

[[upstreams]]
name = "down"
targets = ["{down_addr}"]
retries = {{ attempts = 0 }}

[[routes]]
name = "down"
upstream = "down"
[routes.match]
path_prefix = "/down"

[[routes]]
name = "plain"
upstream = "plain"
[routes.match]
path_prefix = "/"
"#,
        http_only.addr
    )));
    let addr = gw.addr("http");

    for (path, want) in [("/ws", 200u16), ("/down/ws", 502)] {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(format!("ws://{addr}{path}")),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: handshake hung"));
        match r {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), want, "{path}"),
            Err(e) => panic!("{path}: unexpected error {e}"),
            Ok(_) => panic!("{path}: the upgrade must not succeed"),
        }
    }
    assert_eq!(http_only.hits(), 1);
    let resp = common::client().get(gw.url("http", "/after")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// An open WebSocket session is not disturbed by a config reload (even one that reroutes its path), while
/// new sessions follow the new config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_survives_a_reload() {
    let first = ws_echo().await;
    let second = ws_echo().await;
    let cfg = |target: SocketAddr| {
        common::config(&format!(
            "\n[server]\nwatch = false\n\n[[upstreams]]\nname = \"ws\"\ntargets = [\"{target}\"]\n\n\
             [[routes]]\nname = \"ws\"\nupstream = \"ws\"\n[routes.match]\npath_prefix = \"/ws\"\n"
        ))
    };
    let gw = Gw::start(&cfg(first.addr));
    let url = format!("ws://{}/ws", gw.addr("http"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
    ws.send(Message::Text("before".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Text("before".into()));

    gw.write_config(&cfg(second.addr));
    gw.signal("HUP");
    gw.wait_stderr("config reloaded", Duration::from_secs(10));

    ws.send(Message::Text("after".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Text("after".into()));
    let (mut ws2, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws2.send(Message::Text("new".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws2).await, Message::Text("new".into()));
    assert_eq!(first.handshakes.lock().unwrap().len(), 1);
    assert_eq!(second.handshakes.lock().unwrap().len(), 1);
}

/// Details of real clients and servers: a browser-style `Connection: keep-alive, Upgrade` header, and an
/// upstream that speaks first, right after its 101 (those bytes may arrive with the response head).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_browser_connection_header_and_server_speaks_first() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                if ws.send(Message::Text("welcome".into())).await.is_err() {
                    return;
                }
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let gw = Gw::start(&common::config(&format!(
        "\n[[upstreams]]\nname = \"ws\"\ntargets = [\"{up}\"]\n\n[[routes]]\nname = \"ws\"\nupstream = \"ws\"\n\
         [routes.match]\npath_prefix = \"/\"\n"
    )));

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/chat", gw.addr("http")).into_client_request().unwrap();
    req.headers_mut().insert("connection", "keep-alive, Upgrade".parse().unwrap());
    let (mut ws, resp) =
        tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(req)).await.unwrap().unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(next_msg(&mut ws).await, Message::Text("welcome".into()));
    ws.send(Message::Text("hi".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Message::Text("hi".into()));
    ws.close(None).await.unwrap();
}
