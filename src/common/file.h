#pragma once
// File access with the two guarantees pith gives: inputs are read through a
// bounds-checked view, outputs appear only complete (temporary file + rename).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace pith {

// Read-only memory map of a whole file. Empty files map to an empty span.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Writes PATH via "PATH.tmp.<pid>.<n>" and renames it over PATH on commit().
// Without commit() (an exception, an early return) the temporary file is removed,
// so a failed command leaves nothing behind. Refuses an existing PATH unless force.
class OutputFile {
 public:
  OutputFile(const std::string& path, bool force);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::span<const uint8_t> b) { write(b.data(), b.size()); }
  // From now on write() copies into buffers of `buffer_bytes` that a thread of
  // its own writes out, so that the caller's work overlaps the system calls (as
  // zstd's asynchronous I/O does). A write error surfaces at a later write() or
  // at commit().
  void write_behind(size_t buffer_bytes = size_t{256} << 10);
  // Writes bytes the caller hands over, kept alive by `owner` until written: with
  // write-behind, a block of at least the buffer size is queued as it is, without
  // a copy, and released once written.
  void write(std::span<const uint8_t> b, std::shared_ptr<const void> owner);
  // Positional write inside what was already written (for headers patched at the end).
  void pwrite(uint64_t offset, const void* data, size_t n);
  void pad_to(uint64_t alignment);  // zero bytes up to a multiple of alignment
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }
  void commit();  // close, rename (no fsync, see file.cc); throws on failure

 private:
  struct Behind;
  void flush_behind(bool stop);

  std::string path_, tmp_;
  std::unique_ptr<Behind> behind_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

bool file_exists(const std::string& path);
uint64_t file_size(const std::string& path);  // throws pith::Error naming the file
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace pith
