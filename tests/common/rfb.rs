//! A minimal RFB 3.8 client over a WebSocket, as noVNC speaks it, for end-to-end tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

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
        let mut request = vec![3, 0, 0, 0, 0, 0];
        request.extend_from_slice(&width.to_be_bytes());
        request.extend_from_slice(&height.to_be_bytes());
        self.write(&request).await;
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
}
