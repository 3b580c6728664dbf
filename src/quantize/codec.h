#pragma once
// A vector codec: the transform + quantizer chain named by a factory string
// ("rot,sq8", "opq32,pq32x8", "pq64x4fs", "rabitq4", "pca128,sq4", "trunc256,sq8",
// "f16"). Every codec the index uses goes through this interface, so search,
// eval and tune share one implementation.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"

namespace pith {

// Distances are "smaller is nearer" inside pith: squared L2 for L2, minus the
// inner product for IP and COS (COS vectors are normalised before they reach a
// codec). Search results convert back (IP/COS report the similarity).
enum class Metric : uint8_t { IP = 0, COS = 1, L2 = 2 };
const char* metric_name(Metric m);
Metric metric_from_name(const std::string& s);  // "ip" | "cos" | "l2"; throws pith::Error

// Where a thresholded scan (CodeScanner::scan_topk) delivers its candidates: top-k
// selection, whose threshold falls as it fills.
class ScanSink {
 public:
  virtual ~ScanSink() = default;
  virtual float threshold() const = 0;  // larger distances are not wanted; it never rises
  virtual void push(float dist, uint64_t pos) = 0;
};

// Scores one query against many stored codes.
class CodeScanner {
 public:
  virtual ~CodeScanner() = default;
  // codes: `n` vectors in the codec's storage layout, starting at a block boundary
  // (see VectorCodec::block_size). Writes n distances (estimated, smaller = nearer).
  virtual void scan(const uint8_t* codes, size_t n, float* dist) const = 0;

  // Optional faster path to top-k: scans n codes for the queries of group[0..nq)
  // (group[0] is this scanner; all come from the same codec) and pushes to sinks[j],
  // as pos0 + i, every vector i of query j whose distance (as scan() gives it, not
  // NaN) is at or below sinks[j]->threshold() at the time. Returns how many queries
  // of the group it served, from the first; 0 (the default) means use scan().
  virtual size_t scan_topk(const CodeScanner* const* /*group*/, size_t /*nq*/, const uint8_t* /*codes*/,
                           size_t /*n*/, uint64_t /*pos0*/, ScanSink* const* /*sinks*/) const {
    return 0;
  }
};

class VectorCodec {
 public:
  virtual ~VectorCodec() = default;

  virtual std::string spec() const = 0;    // canonical factory string
  virtual size_t dim() const = 0;          // input dimension
  // Bytes stored per vector: codes plus per-vector scalars (norms, scales). Shared
  // parameters (codebooks, rotations) are not counted.
  virtual size_t code_size() const = 0;
  virtual bool needs_training() const = 0;
  virtual void train(const float* x, size_t n, Metric metric, uint64_t seed) = 0;

  // Row codes: n × code_size bytes, one vector after the other.
  virtual void encode(const float* x, size_t n, uint8_t* codes) const = 0;
  virtual void decode(const uint8_t* codes, size_t n, float* x) const = 0;

  // Storage layout. Codecs scanned by in-register lookup tables ("fast scan")
  // interleave vectors in blocks; all others use block_size 1 (row codes as is).
  // A stored run of n vectors occupies ceil(n / block_size) * block_size * code_size bytes.
  virtual size_t block_size() const { return 1; }
  virtual void pack(const uint8_t* row_codes, size_t n, uint8_t* stored) const;   // n rows -> blocks
  virtual void unpack(const uint8_t* stored, size_t first, size_t n, uint8_t* row_codes) const;

  virtual std::unique_ptr<CodeScanner> scanner(const float* query, Metric metric) const = 0;

  // Trained parameters (not the codes).
  virtual void save(ByteWriter& w) const = 0;
  virtual void load(ByteReader& r) = 0;
};

// Builds an untrained codec from a factory string for vectors of `dim` dimensions.
// Errors name the bad token and list the valid ones, or say why the codec does not
// fit the dimension ("pq48: 48 does not divide dimension 300").
std::unique_ptr<VectorCodec> make_codec(const std::string& spec, size_t dim);
// A codec restored from save(): make_codec(spec, dim) then load().
std::unique_ptr<VectorCodec> load_codec(const std::string& spec, size_t dim, ByteReader& r);

// The factory tokens with one line of help each, for error messages and docs.
std::vector<std::pair<std::string, std::string>> codec_tokens();

}  // namespace pith
