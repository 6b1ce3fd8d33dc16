//! Per-address memory with a hard cap.
//!
//! An address is an IPv4 address, or an IPv6 /64: one IPv6 host usually owns a whole /64,
//! so counting single IPv6 addresses would let it walk around every limit. The table keeps at
//! most `capacity` addresses and forgets the least recently seen one to make room, so an
//! attacker with many addresses costs bounded memory (and gets nothing it would not get with
//! fresh addresses anyway).

use std::num::NonZeroUsize;

use lru::LruCache;

pub use crate::values::AddressKey;

/// Bounded map from address to `T`, least recently seen evicted first.
pub struct AddressTable<T> {
    entries: LruCache<AddressKey, T>,
}

impl<T> AddressTable<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// The entry for `key`, made with `make` if there is none (evicting the oldest if full).
    pub fn entry(&mut self, key: AddressKey, make: impl FnOnce() -> T) -> &mut T {
        self.entries.get_or_insert_mut(key, make)
    }

    pub fn get_mut(&mut self, key: &AddressKey) -> Option<&mut T> {
        self.entries.get_mut(key)
    }

    pub fn remove(&mut self, key: &AddressKey) {
        self.entries.pop(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.entries
            .resize(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(a), AddressKey::of(b));
        assert_ne!(AddressKey::of(a), AddressKey::of(c));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(AddressKey::of(mapped), AddressKey::of(v4));
        assert_eq!(AddressKey::of(a).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn the_table_never_holds_more_than_its_capacity() {
        let mut t = AddressTable::new(100);
        for i in 0..10_000u32 {
            *t.entry(AddressKey::of(IpAddr::from(i.to_be_bytes())), || 0) += 1;
        }
        assert_eq!(t.len(), 100);
        // The most recent ones are kept.
        let last = AddressKey::of(IpAddr::from(9_999u32.to_be_bytes()));
        assert_eq!(t.get_mut(&last).copied(), Some(1));
    }
}
