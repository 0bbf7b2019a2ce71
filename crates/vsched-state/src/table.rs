//! A table of records with an undo journal, so a command that fails halfway leaves
//! no trace, and a set of dirty keys, so storage writes only what changed.
//!
//! Reads go straight to the rows. The first write to a key during a command records
//! the key's previous value in the journal; [`Table::commit`] turns the journal into
//! dirty keys and [`Table::rollback`] restores the previous values.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A record that knows its own key.
pub trait Record: Clone + Serialize + DeserializeOwned {
    type Key: Ord + Clone + Serialize + DeserializeOwned;
    fn key(&self) -> Self::Key;
}

/// A key and its new encoded value (`None`: deleted).
pub type RowChange = (Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, Clone)]
pub struct Table<R: Record> {
    rows: BTreeMap<R::Key, R>,
    journal: BTreeMap<R::Key, Option<R>>,
    dirty: BTreeSet<R::Key>,
}

impl<R: Record> Default for Table<R> {
    fn default() -> Self {
        Table { rows: BTreeMap::new(), journal: BTreeMap::new(), dirty: BTreeSet::new() }
    }
}

impl<R: Record> Table<R> {
    pub fn get(&self, key: &R::Key) -> Option<&R> {
        self.rows.get(key)
    }

    pub fn contains(&self, key: &R::Key) -> bool {
        self.rows.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &R> + '_ {
        self.rows.values()
    }

    pub fn keys(&self) -> impl Iterator<Item = &R::Key> + '_ {
        self.rows.keys()
    }

    /// Records in a key range, for composite keys such as `(ns, name)`.
    pub fn range<B>(&self, range: B) -> impl Iterator<Item = &R> + '_
    where
        B: std::ops::RangeBounds<R::Key>,
    {
        self.rows.range(range).map(|(_, v)| v)
    }

    fn journal_key(&mut self, key: &R::Key) {
        if !self.journal.contains_key(key) {
            self.journal.insert(key.clone(), self.rows.get(key).cloned());
        }
    }

    /// Inserts or replaces the record under its own key.
    pub fn insert(&mut self, record: R) {
        let key = record.key();
        self.journal_key(&key);
        self.rows.insert(key, record);
    }

    pub fn remove(&mut self, key: &R::Key) -> Option<R> {
        if !self.rows.contains_key(key) {
            return None;
        }
        self.journal_key(key);
        self.rows.remove(key)
    }

    /// A record to change in place. The record's key fields must not change.
    pub fn get_mut(&mut self, key: &R::Key) -> Option<&mut R> {
        if !self.rows.contains_key(key) {
            return None;
        }
        self.journal_key(key);
        self.rows.get_mut(key)
    }

    /// Whether the current command touched this table.
    pub fn touched(&self) -> bool {
        !self.journal.is_empty()
    }

    /// Keeps the current command's writes.
    pub fn commit(&mut self) {
        let journal = std::mem::take(&mut self.journal);
        self.dirty.extend(journal.into_keys());
    }

    /// Undoes the current command's writes.
    pub fn rollback(&mut self) {
        for (key, previous) in std::mem::take(&mut self.journal) {
            match previous {
                Some(record) => self.rows.insert(key, record),
                None => self.rows.remove(&key),
            };
        }
    }

    /// Encoded changes since the last call, for write-through storage.
    pub fn take_changes(&mut self) -> Vec<RowChange> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|key| {
                let value = self.rows.get(&key).map(encode);
                (encode(&key), value)
            })
            .collect()
    }

    /// Marks every row dirty, so the next [`Table::take_changes`] lists them all.
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.rows.keys().cloned());
    }

    /// Adds a stored record while loading; not journaled.
    pub fn load(&mut self, record: R) {
        self.rows.insert(record.key(), record);
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("records encode to MessagePack")
}

impl<R: Record> Serialize for Table<R> {
    /// A table is written as the sequence of its records; keys are derived.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.rows.values())
    }
}

impl<'de, R: Record> Deserialize<'de> for Table<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let records = Vec::<R>::deserialize(d)?;
        let mut table = Table::default();
        for r in records {
            table.load(r);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        k: String,
        v: u32,
    }

    impl Record for Row {
        type Key = String;
        fn key(&self) -> String {
            self.k.clone()
        }
    }

    fn row(k: &str, v: u32) -> Row {
        Row { k: k.into(), v }
    }

    #[test]
    fn rollback_restores_inserts_updates_and_removals() {
        let mut t = Table::default();
        t.insert(row("a", 1));
        t.insert(row("b", 2));
        t.commit();

        t.insert(row("c", 3));
        t.get_mut(&"a".to_string()).unwrap().v = 10;
        t.remove(&"b".to_string());
        t.rollback();

        assert_eq!(t.get(&"a".to_string()), Some(&row("a", 1)));
        assert_eq!(t.get(&"b".to_string()), Some(&row("b", 2)));
        assert!(t.get(&"c".to_string()).is_none());
    }

    #[test]
    fn changes_list_each_dirty_key_once_with_its_final_value() {
        let mut t = Table::default();
        t.insert(row("a", 1));
        t.insert(row("a", 2));
        t.insert(row("b", 1));
        t.commit();
        t.remove(&"b".to_string());
        t.commit();

        let changes = t.take_changes();
        assert_eq!(changes.len(), 2);
        let (ka, va) = &changes[0];
        assert_eq!(rmp_serde::from_slice::<String>(ka).unwrap(), "a");
        assert_eq!(rmp_serde::from_slice::<Row>(va.as_ref().unwrap()).unwrap(), row("a", 2));
        assert!(changes[1].1.is_none());
        assert!(t.take_changes().is_empty());
    }

    #[test]
    fn rolled_back_writes_are_not_dirty() {
        let mut t = Table::default();
        t.insert(row("a", 1));
        t.rollback();
        assert!(t.take_changes().is_empty());
    }

    #[test]
    fn serializes_as_a_sequence_of_records() {
        let mut t = Table::default();
        t.insert(row("b", 2));
        t.insert(row("a", 1));
        let bytes = rmp_serde::to_vec_named(&t).unwrap();
        let back: Table<Row> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), vec![row("a", 1), row("b", 2)]);
    }
}
