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

/// The largest jar of a 60-jar sample and its version after patch 1 (or
/// with one entry changed, when patch 1 does not touch it).
fn largest_jar_and_patched() -> (Vec<u8>, Vec<u8>) {
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
    let new = s
        .patched_jar(&s.patch(1), j)
        .unwrap_or_else(|_| jar_bytes(spec, &[(0, 1)]).expect("jar"));
    (base, new)
}

fn delta(c: &mut Criterion) {
    let (base, new) = largest_jar_and_patched();
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

/// Plain read versus memory map for the file sizes of a product home: the
/// crossing point sets `patchvault::id::MMAP_THRESHOLD`.
fn read_vs_mmap(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("read_then_hash");
    for kib in [16u64, 64, 256, 1024, 4096] {
        let path = dir.path().join(format!("f{kib}"));
        let data: Vec<u8> = (0..kib * 1024)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        g.throughput(Throughput::Bytes(kib * 1024));
        g.bench_function(format!("read {kib} KiB"), |b| {
            b.iter(|| {
                let bytes = std::fs::read(&path).expect("read");
                ObjectId::for_blob(&bytes)
            })
        });
        g.bench_function(format!("mmap {kib} KiB"), |b| {
            b.iter(|| {
                let f = std::fs::File::open(&path).expect("open");
                // SAFETY: read-only map of a file nobody changes during the benchmark.
                let m = unsafe { memmap2::Mmap::map(&f) }.expect("map");
                ObjectId::for_blob(&m)
            })
        });
    }
    g.finish();
}

/// zstd levels on what a home holds: a jar (already deflated) and a
/// patched jar as a delta against its previous version. Prints sizes.
fn levels(c: &mut Criterion) {
    let (base, new) = largest_jar_and_patched();
    let mut g = c.benchmark_group("zstd_level");
    g.sample_size(10);
    for level in [1, 3, 9] {
        let whole = zstd::bulk::compress(&base, level).expect("zstd");
        eprintln!(
            "jar of {} bytes at zstd level {level}: {:.1}% of its size",
            base.len(),
            100.0 * whole.len() as f64 / base.len() as f64
        );
        g.bench_function(format!("jar level {level}"), |b| {
            b.iter(|| zstd::bulk::compress(&base, level))
        });
        let d = delta_at(&new, &base, level);
        eprintln!(
            "delta of a patched {} byte jar at level {level}: {} bytes",
            new.len(),
            d.len()
        );
        g.bench_function(format!("delta level {level}"), |b| {
            b.iter(|| delta_at(&new, &base, level))
        });
    }
    g.finish();
}

fn delta_at(data: &[u8], base: &[u8], level: i32) -> Vec<u8> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let mut cctx = CCtx::create();
    let _ = cctx.set_parameter(CParameter::CompressionLevel(level));
    let _ = cctx.set_parameter(CParameter::WindowLog(26));
    let _ = cctx.set_parameter(CParameter::EnableLongDistanceMatching(true));
    let _ = cctx.ref_prefix(base);
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    let _ = cctx.compress2(&mut out, data);
    out
}

criterion_group!(benches, hashing, encoding, delta, read_vs_mmap, levels);
criterion_main!(benches);
