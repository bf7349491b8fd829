//! A fixed-capacity ring of the last `cap` values that is always readable as one
//! contiguous slice in chronological order (oldest first), so window sums run over
//! a plain slice with no wrap-around and no allocation.
//!
//! Every value is stored twice, at `i` and `i + cap` of a `2 * cap` buffer; once
//! full, the window is `buf[head..head + cap]`, where `head` is the oldest value.

/// The last `capacity` values pushed.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    buf: Vec<T>,
    cap: usize,
    head: usize,
    len: usize,
}

impl<T: Copy + Default> Ring<T> {
    /// An empty ring keeping the last `cap` values.
    ///
    /// # Panics
    /// If `cap` is 0.
    pub fn new(cap: usize) -> Self {
        assert!(cap > 0, "ring capacity must be at least 1");
        Ring {
            buf: vec![T::default(); 2 * cap],
            cap,
            head: 0,
            len: 0,
        }
    }

    /// Add `x`, dropping the oldest value when full.
    #[inline]
    pub fn push(&mut self, x: T) {
        let h = self.head;
        self.buf[h] = x;
        self.buf[h + self.cap] = x;
        self.head = if h + 1 == self.cap { 0 } else { h + 1 };
        if self.len < self.cap {
            self.len += 1;
        }
    }

    /// The values held, oldest first.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        if self.len < self.cap {
            // Not yet wrapped: values sit at 0..len in push order.
            &self.buf[..self.len]
        } else {
            &self.buf[self.head..self.head + self.cap]
        }
    }

    /// Number of values held (at most the capacity).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was pushed yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the ring holds `capacity` values.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == self.cap
    }

    /// The capacity given to [`Ring::new`].
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests: Ring order and capacity.

    use super::*;

    #[test]
    fn keeps_last_values_in_order() {
        let mut r = Ring::new(3);
        assert!(r.is_empty());
        assert_eq!(r.as_slice(), &[] as &[i32]);
        r.push(1);
        r.push(2);
        assert_eq!(r.as_slice(), &[1, 2]);
        assert!(!r.is_full());
        for x in 3..=10 {
            r.push(x);
            assert_eq!(r.as_slice(), &[x - 2, x - 1, x]);
            assert!(r.is_full());
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.capacity(), 3);
    }

    #[test]
    fn capacity_one() {
        let mut r = Ring::new(1);
        r.push(5.0);
        r.push(6.0);
        assert_eq!(r.as_slice(), &[6.0]);
    }
}
