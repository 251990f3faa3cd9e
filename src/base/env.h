// Env: the only OS-specific code. Files, memory maps, directories, clocks.
//
// Everything persistent goes through an Env so tests can inject faults (FaultInjectionEnv fails
// the Nth write or fsync). Env::Default() is the real POSIX implementation; it is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachet {

// A read-only memory map of a whole file. Move-only; unmaps on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // True for a read-only mmap of a file (Env::MapFile): its pages can be dropped from the
  // process (madvise MADV_DONTNEED) and are read back from the file on the next access.
  bool file_backed() const { return owned_; }

  // Wraps an existing buffer (not owned) — for parsing bytes that did not come from a file.
  static MappedFile FromBuffer(const uint8_t* data, size_t size);

 private:
  friend class PosixEnv;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owned_ = false;
  std::string path_;
};

// A file open for appending/writing. Close() must be called to see write errors of the last bytes.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fsync
  virtual Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  virtual Result<MappedFile> MapFile(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Writes `data` to path atomically: temp file, fsync, rename, fsync of the directory.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data);
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;  // mkdir -p
  virtual Status SyncDir(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;  // names only

  // Monotonic clock in nanoseconds, and wall-clock time in microseconds since the Unix epoch.
  virtual int64_t NowNanos() = 0;
  virtual int64_t WallMicros() = 0;
};

// Joins path components with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace cachet
