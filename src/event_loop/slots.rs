//! Slots: the connection table. A slab whose entries carry a generation, so a `ConnToken`
//! names one connection for its whole life and never the one that reuses its slot.

use super::token::{ConnToken, MAX_SLOTS};

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

pub struct Slots<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Stores a value and returns its token, or gives the value back if every slot is taken.
    pub fn insert_with(&mut self, make: impl FnOnce(ConnToken) -> T) -> Option<ConnToken> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.entries.len()).ok()?;
                if slot >= MAX_SLOTS {
                    return None;
                }
                self.entries.push(Entry {
                    generation: 0,
                    value: None,
                });
                slot
            }
        };
        let entry = &mut self.entries[slot as usize];
        let token = ConnToken {
            slot,
            generation: entry.generation,
        };
        entry.value = Some(make(token));
        self.len += 1;
        Some(token)
    }

    pub fn get(&self, token: ConnToken) -> Option<&T> {
        let entry = self.entries.get(token.slot as usize)?;
        if entry.generation == token.generation {
            entry.value.as_ref()
        } else {
            None
        }
    }

    pub fn get_mut(&mut self, token: ConnToken) -> Option<&mut T> {
        let entry = self.entries.get_mut(token.slot as usize)?;
        if entry.generation == token.generation {
            entry.value.as_mut()
        } else {
            None
        }
    }

    /// Removes the value; the slot's generation moves on so the old token goes stale.
    pub fn remove(&mut self, token: ConnToken) -> Option<T> {
        let entry = self.entries.get_mut(token.slot as usize)?;
        if entry.generation != token.generation {
            return None;
        }
        let value = entry.value.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(token.slot);
        self.len -= 1;
        Some(value)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (ConnToken, &T)> {
        self.entries.iter().enumerate().filter_map(|(slot, e)| {
            e.value.as_ref().map(|v| {
                (
                    ConnToken {
                        slot: slot as u32,
                        generation: e.generation,
                    },
                    v,
                )
            })
        })
    }

    pub fn tokens(&self) -> Vec<ConnToken> {
        self.iter().map(|(t, _)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tokens_are_dropped_after_reuse() {
        let mut s = Slots::default();
        let a = s.insert_with(|_| "first").unwrap();
        assert_eq!(s.get(a), Some(&"first"));
        assert_eq!(s.remove(a), Some("first"));
        let b = s.insert_with(|_| "second").unwrap();
        assert_eq!(a.slot, b.slot, "the slot is reused");
        assert_ne!(a.generation, b.generation);
        assert_eq!(
            s.get(a),
            None,
            "a reply for the closed connection finds nothing"
        );
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"second"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.tokens(), vec![b]);
    }
}
