#include "common/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "common/error.h"

namespace pith {

namespace {
std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const std::string& path, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, "write failed: {}", errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}
}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open: {}", errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat: {}", errno_text());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail(path, "cannot map: {}", errno_text());
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(o.path_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

OutputFile::OutputFile(const std::string& path, bool force) : path_(path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!force) fail(path, "already exists (use -f to overwrite)");
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory");
  }
  static std::atomic<unsigned> counter{0};
  tmp_ = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path, "cannot create temporary file {}: {}", tmp_, errno_text());
}

// Blocks go from the caller to the writer thread (full): copies made by write()
// in buffers of `cap` bytes, which come back for reuse (spare), and buffers handed
// over whole, freed once written. At most kQueued wait, which bounds the memory.
struct OutputFile::Behind {
  static constexpr size_t kQueued = 2;
  struct Block {
    std::vector<uint8_t> copy;
    std::span<const uint8_t> handed;
    std::shared_ptr<const void> owner;  // of `handed`
  };
  size_t cap;
  std::vector<uint8_t> cur;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Block> full;
  std::vector<std::vector<uint8_t>> spare;
  bool busy = false, stop = false;
  std::exception_ptr err;
  std::thread th;

  // Queues the current copy buffer, then `blk` (which may be empty): the order of the writes.
  void enqueue(Block blk) {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return full.size() < kQueued || err; });
    if (err) std::rethrow_exception(err);
    if (!cur.empty()) {
      full.push_back({std::move(cur), {}, nullptr});
      if (spare.empty()) {
        cur = {};
        cur.reserve(cap);
      } else {
        cur = std::move(spare.back());
        spare.pop_back();
      }
    }
    if (blk.owner || !blk.copy.empty()) full.push_back(std::move(blk));
    cv.notify_all();
  }
};

void OutputFile::write_behind(size_t buffer_bytes) {
  if (behind_) return;
  behind_ = std::make_unique<Behind>();
  Behind& b = *behind_;
  b.cap = buffer_bytes;
  b.cur.reserve(b.cap);
  b.th = std::thread([this, &b] {
    std::unique_lock<std::mutex> lk(b.mu);
    while (true) {
      b.cv.wait(lk, [&] { return b.stop || !b.full.empty(); });
      if (b.full.empty()) return;
      Behind::Block blk = std::move(b.full.front());
      b.full.pop_front();
      b.busy = true;
      lk.unlock();
      try {
        if (!b.err) {
          if (blk.owner)
            write_all(fd_, path_, blk.handed.data(), blk.handed.size());
          else
            write_all(fd_, path_, blk.copy.data(), blk.copy.size());
        }
      } catch (...) {
        lk.lock();
        b.err = std::current_exception();
        lk.unlock();
      }
      blk.owner.reset();
      blk.copy.clear();
      lk.lock();
      b.busy = false;
      if (blk.copy.capacity()) b.spare.push_back(std::move(blk.copy));
      b.cv.notify_all();
    }
  });
}

// Hands the current buffer over and waits until everything is written; with
// `stop` also ends the thread. Rethrows a write error.
void OutputFile::flush_behind(bool stop) {
  Behind& b = *behind_;
  std::unique_lock<std::mutex> lk(b.mu);
  if (!b.cur.empty()) {
    b.full.push_back({std::move(b.cur), {}, nullptr});
    b.cur = {};
  }
  b.stop = stop;
  b.cv.notify_all();
  b.cv.wait(lk, [&] { return b.full.empty() && !b.busy; });
  if (b.cur.capacity() == 0 && !b.spare.empty()) {
    b.cur = std::move(b.spare.back());
    b.spare.pop_back();
  }
  lk.unlock();
  if (stop) {
    b.th.join();
    std::exception_ptr e = b.err;
    behind_.reset();
    if (e) std::rethrow_exception(e);
  } else if (b.err) {
    std::rethrow_exception(b.err);
  }
}

OutputFile::~OutputFile() {
  if (behind_) {
    try {
      flush_behind(true);
    } catch (...) {  // the file is removed below anyway
    }
  }
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void OutputFile::write(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  offset_ += n;
  if (!behind_) return write_all(fd_, path_, p, n);
  Behind& b = *behind_;
  while (n > 0) {
    const size_t take = std::min(n, b.cap - b.cur.size());
    b.cur.insert(b.cur.end(), p, p + take);
    p += take;
    n -= take;
    if (b.cur.size() == b.cap) b.enqueue({});
  }
}

void OutputFile::write(std::span<const uint8_t> b, std::shared_ptr<const void> owner) {
  // Small buffers are copied and written in batches: waking the writer thread
  // for each of a checkpoint's many small tensors cost more than the copies.
  if (!behind_ || b.size() < behind_->cap) return write(b);
  offset_ += b.size();
  behind_->enqueue({{}, b, std::move(owner)});
}

void OutputFile::pwrite(uint64_t offset, const void* data, size_t n) {
  if (offset + n > offset_) fail(path_, "internal error: positional write past the end");
  if (behind_) flush_behind(false);
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path_, "write failed: {}", errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void OutputFile::pad_to(uint64_t alignment) {
  static const uint8_t zeros[4096] = {};
  uint64_t rem = offset_ % alignment;
  if (rem == 0) return;
  uint64_t pad = alignment - rem;
  while (pad > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof zeros));
    write(zeros, n);
    pad -= n;
  }
}

// No fsync: like zstd, gzip and xz, a new file is written and renamed into place,
// which never exposes a partial file to readers; surviving a power cut right after
// the command is left to the file system (ext4 and xfs flush a file renamed over
// another). An fsync of 5.4 MB took 12-23 ms here, more than decoding it.
void OutputFile::commit() {
  if (behind_) flush_behind(true);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, "close failed: {}", errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail(path_, "cannot rename {} into place: {}", tmp_, errno_text());
  committed_ = true;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, "cannot stat: {}", errno_text());
  return static_cast<uint64_t>(st.st_size);
}

std::vector<uint8_t> read_file(const std::string& path) {
  MappedFile m(path);
  return {m.data(), m.data() + m.size()};
}

}  // namespace pith
