//! A minimal SCALE reader and a tiny shape interpreter, enough to walk a
//! runtime API result whose layout is described as data ([`Shape`]).
//!
//! Every read is bounds-checked and every length prefix is checked against
//! the bytes left, so hostile or misaligned input fails cleanly instead of
//! panicking or allocating without limit.

/// Why bytes could not be read as the shape asked for; offsets count from
/// the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// The input ends before the value does.
    #[error("needs {needed} bytes at offset {at}, {left} left")]
    Short {
        /// Bytes the value needs.
        needed: usize,
        /// Where it starts.
        at: usize,
        /// Bytes left from there.
        left: usize,
    },
    /// A big-integer compact wider than 16 bytes, beyond `u128`.
    #[error("compact of {len} bytes at offset {at}")]
    CompactTooLong {
        /// The width its prefix states, in bytes.
        len: usize,
        /// Where the compact starts.
        at: usize,
    },
    /// A length prefix larger than the bytes left: misaligned or hostile
    /// input, refused before anything is allocated.
    #[error("length {len} at offset {at} exceeds the {left} bytes left")]
    LengthBeyondInput {
        /// The length stated.
        len: u128,
        /// Where the prefix starts.
        at: usize,
        /// Bytes left after it.
        left: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("bool byte {byte} at offset {at}")]
    Bool {
        /// The byte found.
        byte: u8,
        /// Where it is.
        at: usize,
    },
    /// An option tag other than 0 (`None`) or 1 (`Some`).
    #[error("option tag {byte} at offset {at}")]
    OptionTag {
        /// The byte found.
        byte: u8,
        /// Where it is.
        at: usize,
    },
}

/// The SCALE shape of a value.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `Compact<uN>` for any N up to 128.
    Compact,
    Bool,
    /// Fixed-size bytes: `[u8; N]`, `u64`, `I96F32` (16) ...
    Fixed(usize),
    /// `Vec<u8>`.
    Bytes,
    Vec(&'static Shape),
    Option(&'static Shape),
    /// A struct or tuple: its fields in order.
    Struct(&'static [Shape]),
}

/// A decoded value, as much as the callers look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(u128),
    Bool(bool),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Option(Option<Box<Value>>),
}

#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ScaleError> {
        if n > self.remaining() {
            return Err(ScaleError::Short {
                needed: n,
                at: self.pos,
                left: self.remaining(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn byte(&mut self) -> Result<u8, ScaleError> {
        Ok(self.take(1)?[0])
    }

    pub fn compact(&mut self) -> Result<u128, ScaleError> {
        let first = self.byte()?;
        Ok(match first & 0b11 {
            0b00 => u128::from(first >> 2),
            0b01 => u128::from(u16::from_le_bytes([first, self.byte()?]) >> 2),
            0b10 => {
                let rest = self.take(3)?;
                u128::from(u32::from_le_bytes([first, rest[0], rest[1], rest[2]]) >> 2)
            }
            _ => {
                let len = usize::from(first >> 2) + 4;
                if len > 16 {
                    return Err(ScaleError::CompactTooLong {
                        len,
                        at: self.pos - 1,
                    });
                }
                let mut buf = [0u8; 16];
                buf[..len].copy_from_slice(self.take(len)?);
                u128::from_le_bytes(buf)
            }
        })
    }

    /// A length prefix, refused when it cannot fit in what is left (every
    /// element is at least one byte in the shapes used here).
    pub fn length(&mut self) -> Result<usize, ScaleError> {
        let at = self.pos;
        let len = self.compact()?;
        if len > self.remaining() as u128 {
            return Err(ScaleError::LengthBeyondInput {
                len,
                at,
                left: self.remaining(),
            });
        }
        Ok(len as usize)
    }

    pub fn value(&mut self, shape: &Shape) -> Result<Value, ScaleError> {
        Ok(match shape {
            Shape::Compact => Value::Int(self.compact()?),
            Shape::Bool => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                byte => {
                    return Err(ScaleError::Bool {
                        byte,
                        at: self.pos - 1,
                    });
                }
            },
            Shape::Fixed(n) => Value::Bytes(self.take(*n)?.to_vec()),
            Shape::Bytes => {
                let len = self.length()?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            Shape::Vec(item) => {
                let len = self.length()?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.value(item)?);
                }
                Value::List(items)
            }
            Shape::Option(inner) => match self.byte()? {
                0 => Value::Option(None),
                1 => Value::Option(Some(Box::new(self.value(inner)?))),
                byte => {
                    return Err(ScaleError::OptionTag {
                        byte,
                        at: self.pos - 1,
                    });
                }
            },
            Shape::Struct(fields) => Value::List(
                fields
                    .iter()
                    .map(|f| self.value(f))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compacts_of_every_mode() {
        // 1, 64, 2^16, 2^32 in the four modes, as scalecodec encodes them.
        let bytes = [
            0x04, 0x01, 0x01, 0x02, 0x00, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.compact().unwrap(), 1);
        assert_eq!(r.compact().unwrap(), 64);
        assert_eq!(r.compact().unwrap(), 1 << 16);
        assert_eq!(r.compact().unwrap(), 1 << 32);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn refuses_lengths_beyond_the_input() {
        // Vec of claimed 2^30 - 1 items in a 5-byte input: refused, not allocated.
        let mut r = Reader::new(&[0xfe, 0xff, 0xff, 0xff, 0x00]);
        assert_eq!(
            r.value(&Shape::Vec(&Shape::Bool)),
            Err(ScaleError::LengthBeyondInput {
                len: (1 << 30) - 1,
                at: 0,
                left: 1
            })
        );
        assert_eq!(
            Reader::new(&[0x02]).value(&Shape::Bool),
            Err(ScaleError::Bool { byte: 2, at: 0 })
        );
        let cut = Reader::new(&[0x01]).value(&Shape::Option(&Shape::Bool));
        assert_eq!(
            cut,
            Err(ScaleError::Short {
                needed: 1,
                at: 1,
                left: 0
            })
        );
        assert_eq!(
            cut.unwrap_err().to_string(),
            "needs 1 bytes at offset 1, 0 left"
        );
        assert_eq!(
            Reader::new(&[0xff; 3]).compact(),
            Err(ScaleError::CompactTooLong { len: 67, at: 0 })
        );
    }

    #[test]
    fn walks_nested_shapes() {
        // Option<(Vec<u8>, Vec<Compact>)> = Some(("hi", [1, 2])).
        let bytes = [0x01, 0x08, b'h', b'i', 0x08, 0x04, 0x08];
        let shape = Shape::Option(&Shape::Struct(&[Shape::Bytes, Shape::Vec(&Shape::Compact)]));
        let value = Reader::new(&bytes).value(&shape).unwrap();
        let expected = Value::Option(Some(Box::new(Value::List(vec![
            Value::Bytes(b"hi".to_vec()),
            Value::List(vec![Value::Int(1), Value::Int(2)]),
        ]))));
        assert_eq!(value, expected);
    }
}
