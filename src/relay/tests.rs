//! The relay over real loopback sockets: plain TCP on both sides takes the splice path, a
//! stream that is not TCP the copying path; both must give the browser the same whole frames.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::either::Either;

use super::*;
use crate::websocket::{FrameWriter, Reader};

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (near, far) = tokio::join!(listener.accept(), TcpStream::connect(addr));
    (near.expect("accept").0, far.expect("connect"))
}

/// Server frames (unmasked) from `bytes`: (opcode, payload) each; panics on a cut frame.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "a cut header");
        let opcode = bytes[0] & 0x0F;
        assert_eq!(bytes[1] & 0x80, 0, "server frames are not masked");
        let (len, at) = match bytes[1] & 0x7F {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(len) as usize, 10)
            }
            short => (short as usize, 2),
        };
        assert!(bytes.len() >= at + len, "a cut frame");
        out.push((opcode, bytes[at..at + len].to_vec()));
        bytes = &bytes[at + len..];
    }
    out
}

fn timers() -> Timers {
    Timers {
        ping_interval: Duration::from_millis(20),
        client_timeout: Duration::from_secs(10),
        expires: None,
    }
}

/// Runs a relay whose server sends `data` and whose browser reads only after `stop_after`,
/// when the relay is stopped; returns what the browser got.
async fn stopped_mid_stream<B, S>(browser: B, backend: S, data: Vec<u8>) -> (Vec<u8>, Outcome)
where
    B: FnOnce() -> (Browser<BrowserRead, BrowserWrite>, TcpStream),
    S: FnOnce() -> (BackendHalves, BackendFar),
{
    let (browser, mut far_browser) = browser();
    let (halves, mut far_backend) = backend();
    let feeder = tokio::spawn(async move {
        // Until the relay stops and the socket is closed under it.
        let _ = far_backend.write_all(&data).await;
        far_backend
    });
    let stop = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        End::Shutdown
    };
    let reading = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match far_browser.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(count) => got.extend_from_slice(&chunk[..count]),
            }
            // Answer the close frame (1001 and a 34-byte reason) once it arrives, as a
            // browser does.
            if got.ends_with(b"shutting down") {
                let _ = far_browser.write_all(&[0x88, 0x80, 0, 0, 0, 0]).await;
            }
        }
        got
    });
    let (outcome, linger) = relay(
        browser,
        halves,
        timers(),
        true,
        filter::Filters::default(),
        Meters::default(),
        stop,
    )
    .await;
    if let Some(linger) = linger {
        linger.run().await;
    }
    drop(feeder);
    (reading.await.expect("reader"), outcome)
}

type BrowserRead = Either<tokio::net::tcp::OwnedReadHalf, tokio::io::ReadHalf<DuplexStream>>;
type BrowserWrite = Either<tokio::net::tcp::OwnedWriteHalf, tokio::io::WriteHalf<DuplexStream>>;
type BackendHalves = (BrowserRead, BrowserWrite);
type BackendFar = Either<TcpStream, DuplexStream>;

fn browser_over(near: TcpStream) -> Browser<BrowserRead, BrowserWrite> {
    let (read, write) = splice::halves(Either::<_, DuplexStream>::Left(near));
    Browser {
        reader: Reader::new(read, Bytes::new(), 1 << 20),
        writer: FrameWriter::new(write),
    }
}

async fn check_stopped_mid_stream(backend_tcp: bool) {
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (near_browser, far_browser) = tcp_pair().await;
    let backend: (BackendHalves, BackendFar) = if backend_tcp {
        let (near, far) = tcp_pair().await;
        (splice::halves(Either::Left(near)), Either::Left(far))
    } else {
        let (near, far) = tokio::io::duplex(256 * 1024);
        (splice::halves(Either::Right(near)), Either::Right(far))
    };
    let (got, outcome) = stopped_mid_stream(
        move || (browser_over(near_browser), far_browser),
        move || backend,
        data.clone(),
    )
    .await;
    assert!(matches!(outcome.end, End::Shutdown), "{}", outcome.end);
    let frames = frames(&got);
    let (last, data_frames) = frames.split_last().expect("frames");
    assert_eq!(last.0, 0x8, "a close frame last");
    assert_eq!(&last.1[..2], &1001u16.to_be_bytes());
    let mut relayed = Vec::new();
    for (opcode, payload) in data_frames {
        match opcode {
            0x2 => relayed.extend_from_slice(payload),
            0x9 => assert!(payload.is_empty()),
            other => panic!("opcode {other}"),
        }
    }
    assert!(!relayed.is_empty(), "data flowed before the stop");
    assert_eq!(relayed.len() as u64, outcome.bytes_down);
    assert_eq!(&relayed[..], &data[..relayed.len()], "in order, intact");
    // The pool is this test thread's own: a pipe in it means frames were spliced.
    assert_eq!(
        splice::pooled() > 0,
        backend_tcp,
        "spliced only between TCP sockets"
    );
}

#[tokio::test]
async fn a_spliced_frame_cut_by_the_end_is_finished_before_the_close() {
    check_stopped_mid_stream(true).await;
}

#[tokio::test]
async fn a_copied_frame_cut_by_the_end_is_finished_before_the_close() {
    check_stopped_mid_stream(false).await;
}
