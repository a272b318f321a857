//! Micro-benchmarks: BLAKE3 hashing (single and multi-threaded), tree
//! encoding and decoding, and zstd deltas of a patched jar.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use patchvault::id::{hash_blob, ObjectId};
use patchvault::object::{EntryKind, Tree, TreeEntry};
use patchvault::odb::{delta_compress, delta_decompress};
use patchvault_sample::{jar_bytes, Options, Sample};

fn hashing(c: &mut Criterion) {
    let data: Vec<u8> = (0..(16u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("blake3 16 MiB one thread", |b| {
        b.iter(|| ObjectId::for_blob(&data))
    });
    g.bench_function("blake3 16 MiB rayon", |b| b.iter(|| hash_blob(&data)));
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let entries: Vec<TreeEntry> = (0..750)
        .map(|i: u32| TreeEntry {
            name: format!("org.wso2.carbon.bundle{i}_4.9.{i}.jar").into_bytes(),
            kind: EntryKind::File,
            size: 68_000,
            id: ObjectId::for_blob(&i.to_le_bytes()),
        })
        .collect();
    let tree = Tree::new(entries).expect("valid tree");
    let enc = tree.encode();
    let id = tree.id();
    c.bench_function("tree encode 750 entries", |b| b.iter(|| tree.encode()));
    c.bench_function("tree decode 750 entries", |b| {
        b.iter(|| Tree::decode(id, &enc))
    });
}

fn delta(c: &mut Criterion) {
    let s = Sample::new(Options {
        jars: 60,
        seed: 42,
        small: false,
    });
    let (j, spec) = s
        .jars
        .iter()
        .enumerate()
        .max_by_key(|(_, j)| j.target_size)
        .expect("jars");
    let base = jar_bytes(spec, &[]).expect("jar");
    let p = s.patch(1);
    let new = s
        .patched_jar(&p, j)
        .unwrap_or_else(|_| jar_bytes(spec, &[(0, 1)]).expect("jar"));
    let d = delta_compress(&new, &base).expect("delta");
    eprintln!(
        "delta of a {} byte jar: {} bytes ({:.2}%)",
        new.len(),
        d.len(),
        100.0 * d.len() as f64 / new.len() as f64
    );
    let mut g = c.benchmark_group("delta");
    g.throughput(Throughput::Bytes(new.len() as u64));
    g.sample_size(20);
    g.bench_function("compress against previous version", |b| {
        b.iter(|| delta_compress(&new, &base))
    });
    g.bench_function("decompress", |b| {
        b.iter(|| delta_decompress(&d, &base, new.len() as u64))
    });
    g.finish();
}

criterion_group!(benches, hashing, encoding, delta);
criterion_main!(benches);
