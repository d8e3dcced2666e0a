//! The wire codec: each [`Message`] is a postcard encoding behind a 4-byte big-endian length
//! (tokio-util's length-delimited framing). Lengths above the maximum message size are
//! refused before any buffer grows for them; a body that does not decode, or does not end
//! with its message, is refused as malformed. A message is encoded straight into the write
//! buffer, behind the messages already queued there, with no buffer of its own.
//! After either error the stream is out of step: close the connection.

use std::fmt;
use std::io;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LengthDelimitedCodecError};

use super::wire::Message;

/// Why a message could not be read or written.
#[derive(Debug)]
pub enum WireError {
    /// A message longer than the maximum.
    Oversized {
        /// The maximum message size.
        max: usize,
    },
    /// A message that does not decode.
    Malformed(String),
    /// The connection failed.
    Io(io::Error),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Oversized { max } => write!(f, "a message longer than {max} bytes"),
            WireError::Malformed(why) => write!(f, "a malformed message: {why}"),
            WireError::Io(e) => write!(f, "connection: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<io::Error> for WireError {
    fn from(error: io::Error) -> Self {
        WireError::Io(error)
    }
}

/// Frames [`Message`]s on a byte stream; use it with `tokio_util::codec::Framed`.
#[derive(Debug)]
pub struct WireCodec {
    frames: LengthDelimitedCodec,
    max: usize,
}

impl WireCodec {
    /// A codec refusing messages longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        let frames = LengthDelimitedCodec::builder()
            .length_field_type::<u32>()
            .max_frame_length(max)
            .new_codec();
        WireCodec { frames, max }
    }

    /// The maximum message size.
    pub fn max(&self) -> usize {
        self.max
    }

    fn framing(&self, error: io::Error) -> WireError {
        let oversized = error
            .get_ref()
            .is_some_and(|e| e.is::<LengthDelimitedCodecError>());
        match oversized {
            true => WireError::Oversized { max: self.max },
            false => WireError::Io(error),
        }
    }
}

impl Decoder for WireCodec {
    type Item = Message;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, WireError> {
        match self.frames.decode(src) {
            Ok(Some(body)) => match postcard::take_from_bytes(&body) {
                Ok((message, [])) => Ok(Some(message)),
                Ok((_, rest)) => Err(WireError::Malformed(format!(
                    "{} bytes after the message",
                    rest.len()
                ))),
                Err(e) => Err(WireError::Malformed(e.to_string())),
            },
            Ok(None) => Ok(None),
            Err(e) => Err(self.framing(e)),
        }
    }
}

impl Encoder<&Message> for WireCodec {
    type Error = WireError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), WireError> {
        self.encode_body(message, dst)
    }
}

impl WireCodec {
    /// Appends `body` to `dst` as one message: its length, then its postcard encoding,
    /// written in place. On an error `dst` holds what it held before.
    pub fn encode_body(
        &self,
        body: &impl serde::Serialize,
        dst: &mut BytesMut,
    ) -> Result<(), WireError> {
        let start = dst.len();
        dst.extend_from_slice(&[0; LENGTH]);
        let encoded = postcard::to_extend(body, Tail(dst)).map(drop);
        let len = dst.len() - start - LENGTH;
        let failed = match encoded {
            Err(e) => Some(WireError::Malformed(e.to_string())),
            Ok(_) if len > self.max => Some(WireError::Oversized { max: self.max }),
            Ok(_) => None,
        };
        if let Some(error) = failed {
            dst.truncate(start);
            return Err(error);
        }
        let len = u32::try_from(len).expect("the maximum message size fits the length field");
        dst[start..start + LENGTH].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

/// The bytes of a message's length field.
const LENGTH: usize = 4;

/// The end of a write buffer, which postcard appends to.
struct Tail<'a>(&'a mut BytesMut);

impl Extend<u8> for Tail<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0.extend(bytes);
    }
}
