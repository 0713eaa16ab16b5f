//! A minimal RFB 3.8 client over a WebSocket, as noVNC speaks it, for end-to-end tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A raw RFB viewer through `proxy` with `token`, past ServerInit: the viewer, the screen's
/// width and height.
pub async fn viewer(
    proxy: &super::Proxy,
    token: &str,
) -> (WsBytes<tokio::net::TcpStream>, u16, u16) {
    let (socket, _) = super::ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    let mut viewer = WsBytes::new(socket);
    let init = viewer.handshake().await.expect("viewer");
    (viewer, init.width, init.height)
}

/// A FramebufferUpdateRequest for the whole `width` × `height` screen.
pub fn update_request(incremental: bool, width: u16, height: u16) -> Vec<u8> {
    let mut request = vec![3, u8::from(incremental), 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    request
}

/// Bytes from WebSocket messages, read as a stream.
pub struct WsBytes<S> {
    pub ws: WebSocketStream<S>,
    buffer: Vec<u8>,
}

/// What the server said in ServerInit.
#[derive(Debug)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub name: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsBytes<S> {
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            buffer: Vec::new(),
        }
    }

    /// Exactly `count` bytes, or the close frame's reason / error as `Err`.
    pub async fn read(&mut self, count: usize) -> Result<Vec<u8>, String> {
        while self.buffer.len() < count {
            let next = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .map_err(|_| "timed out".to_owned())?;
            match next {
                Some(Ok(Message::Binary(data))) => self.buffer.extend_from_slice(&data),
                Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.to_string()),
                None => return Err("ended".into()),
            }
        }
        Ok(self.buffer.drain(..count).collect())
    }

    pub async fn write(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .await
            .expect("send");
    }

    /// Version, security None, SecurityResult: what noVNC does before ClientInit.
    pub async fn security_none(&mut self) -> Result<(), String> {
        let version = self.read(12).await?;
        if &version != b"RFB 003.008\n" {
            return Err(format!("version {version:?}"));
        }
        self.write(b"RFB 003.008\n").await;
        let count = self.read(1).await?[0];
        if count == 0 {
            let length = u32::from_be_bytes(self.read(4).await?.try_into().expect("4"));
            let reason = self.read(length as usize).await?;
            return Err(format!("refused: {}", String::from_utf8_lossy(&reason)));
        }
        let types = self.read(count as usize).await?;
        if !types.contains(&1) {
            return Err(format!("no None among {types:?}"));
        }
        self.write(&[1]).await;
        let result = self.read(4).await?;
        if result != [0, 0, 0, 0] {
            let length = u32::from_be_bytes(self.read(4).await?.try_into().expect("4"));
            let reason = self.read(length as usize).await?;
            return Err(format!(
                "security failed: {}",
                String::from_utf8_lossy(&reason)
            ));
        }
        Ok(())
    }

    /// The whole handshake to ServerInit.
    pub async fn handshake(&mut self) -> Result<ServerInit, String> {
        self.security_none().await?;
        self.write(&[1]).await;
        let init = self.read(24).await?;
        let name_length = u32::from_be_bytes(init[20..24].try_into().expect("4"));
        let name = self.read(name_length as usize).await?;
        Ok(ServerInit {
            width: u16::from_be_bytes([init[0], init[1]]),
            height: u16::from_be_bytes([init[2], init[3]]),
            name: String::from_utf8_lossy(&name).into_owned(),
        })
    }

    /// Asks for a full framebuffer update and returns the header of its first rectangle.
    pub async fn framebuffer_update(
        &mut self,
        width: u16,
        height: u16,
    ) -> Result<(u16, u16, u16, u16, i32), String> {
        // SetEncodings: raw only, so the reply is easy to check.
        self.write(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
        self.write(&update_request(false, width, height)).await;
        loop {
            let kind = self.read(1).await?[0];
            match kind {
                0 => {
                    let header = self.read(3).await?;
                    let rectangles = u16::from_be_bytes([header[1], header[2]]);
                    if rectangles == 0 {
                        continue;
                    }
                    let rect = self.read(12).await?;
                    let x = u16::from_be_bytes([rect[0], rect[1]]);
                    let y = u16::from_be_bytes([rect[2], rect[3]]);
                    let w = u16::from_be_bytes([rect[4], rect[5]]);
                    let h = u16::from_be_bytes([rect[6], rect[7]]);
                    let encoding = i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]);
                    return Ok((x, y, w, h, encoding));
                }
                other => return Err(format!("unexpected server message {other}")),
            }
        }
    }

    /// Whether an RFB session still answers: a full update request gets bytes back.
    pub async fn answers(&mut self) -> bool {
        self.write(&update_request(false, 8, 8)).await;
        self.read(4).await.is_ok()
    }

    /// Whatever arrives until nothing has for `quiet`, or the close as `Err`.
    pub async fn drain_bytes(&mut self, quiet: Duration) -> Result<Vec<u8>, String> {
        let mut bytes = std::mem::take(&mut self.buffer);
        loop {
            match tokio::time::timeout(quiet, self.ws.next()).await {
                Err(_) => return Ok(bytes),
                Ok(Some(Ok(Message::Binary(data)))) => bytes.extend_from_slice(&data),
                Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed: {frame:?}")),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(error))) => return Err(error.to_string()),
                Ok(None) => return Err("ended".into()),
            }
        }
    }

    /// The whole screen as raw 32-bit pixels: SetEncodings raw only, then a full,
    /// non-incremental update. Bells and clipboard texts before it are passed over.
    pub async fn raw_screen(&mut self, width: u16, height: u16) -> Result<Vec<u8>, String> {
        self.raw_screen_keeping(width, height, false).await
    }

    /// [`Self::raw_screen`]; with `led`, the QEMU LED state pseudo-encoding stays asked for
    /// (TigerVNC closes a client that took back a pseudo-encoding it uses).
    pub async fn raw_screen_keeping(
        &mut self,
        width: u16,
        height: u16,
        led: bool,
    ) -> Result<Vec<u8>, String> {
        let (w, h) = (usize::from(width), usize::from(height));
        let mut screen = vec![0u8; w * h * 4];
        if led {
            self.write(&[2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xfe, 0xfb])
                .await;
        } else {
            self.write(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
        }
        self.write(&update_request(false, width, height)).await;
        loop {
            match self.read(1).await?[0] {
                0 => {
                    let header = self.read(3).await?;
                    let rectangles = u16::from_be_bytes([header[1], header[2]]);
                    let mut pixels_came = false;
                    for _ in 0..rectangles {
                        let rect = self.read(12).await?;
                        let at = |i: usize| usize::from(u16::from_be_bytes([rect[i], rect[i + 1]]));
                        let (x, y, rw, rh) = (at(0), at(2), at(4), at(6));
                        let encoding = i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]);
                        if encoding == -261 {
                            self.read(1).await?;
                            continue;
                        }
                        if encoding != 0 {
                            return Err(format!("a rectangle in encoding {encoding}"));
                        }
                        pixels_came = true;
                        let pixels = self.read(rw * rh * 4).await?;
                        for row in 0..rh {
                            let to = ((y + row) * w + x) * 4;
                            screen[to..to + rw * 4]
                                .copy_from_slice(&pixels[row * rw * 4..(row + 1) * rw * 4]);
                        }
                    }
                    // An update of pseudo-rectangles only (LED state) is not the screen.
                    if pixels_came {
                        return Ok(screen);
                    }
                }
                2 => {}
                3 => {
                    self.cut_text_body().await?;
                }
                other => return Err(format!("unexpected server message {other}")),
            }
        }
    }

    /// The rest of a ServerCutText after its type byte: the text.
    pub async fn cut_text_body(&mut self) -> Result<Vec<u8>, String> {
        let header = self.read(7).await?;
        let length = i32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        self.read(length.unsigned_abs() as usize).await
    }

    /// The next clipboard text the server sends within `wait` (bells passed over), or `None`.
    pub async fn cut_text(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.read(1)).await;
            match next {
                Err(_) => return Ok(None),
                Ok(kind) => match kind?[0] {
                    2 => {}
                    3 => return self.cut_text_body().await.map(Some),
                    other => return Err(format!("unexpected server message {other}")),
                },
            }
        }
    }

    /// Sends `text` as ClientCutText.
    pub async fn send_cut_text(&mut self, text: &[u8]) {
        let mut message = vec![6, 0, 0, 0];
        message.extend_from_slice(&u32::try_from(text.len()).expect("short").to_be_bytes());
        message.extend_from_slice(text);
        self.write(&message).await;
    }
}
