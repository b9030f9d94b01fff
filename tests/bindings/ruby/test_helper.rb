# Shared by the fq Ruby tests (run by CTest as ruby_test, which sets
# FQ_RUBY_LIB, FQCTL and FQ_ERRORS_DEF).
require "minitest/autorun"
require "fileutils"
require "open3"
require "rbconfig"
require "tmpdir"
require "fq"

class FQTest < Minitest::Test
  # The upper bound of any wait in a test: its expiry fails the test.
  LIMIT = 10

  def setup
    @dir = Dir.mktmpdir("fq-rb-")
    @path = File.join(@dir, "q.fifo")
  end

  def teardown
    [@path, "#{@path}.dlq"].each do |q|
      FQ.unlink(q)
    rescue FQ::NotFound
      nil
    end
    FileUtils.rm_rf(@dir)
  end

  # Runs the block in a forked child that exits with 0 when it returns, 1
  # when it raises (the parent's Minitest must not run again at its exit).
  def child
    fork do
      yield
      exit!(0)
    rescue Exception => e # rubocop:disable Lint/RescueException: report anything
      warn "child: #{e.class}: #{e.message}"
      exit!(1)
    end
  end

  def wait_ok(pid)
    _, status = Process.wait2(pid)
    assert status.success?, "child #{pid}: #{status.inspect}"
  end

  # A separate Ruby process with this build's fq library.
  def ruby_command(code, *args)
    [RbConfig.ruby, "-I", ENV.fetch("FQ_RUBY_LIB"), "-e", code, *args]
  end

  def fqctl(*args)
    out, err, status = Open3.capture3(ENV.fetch("FQCTL"), *args)
    assert status.success?, "fqctl #{args.join(' ')}: #{err}"
    out
  end

  # Waits until the process's main thread sleeps in the kernel (a blocking
  # call), at most LIMIT seconds.
  def wait_until_blocked(pid)
    deadline = now + LIMIT
    # Asleep in the kernel where fq waits: poll (a message) or futex (room, join).
    until File.read("/proc/#{pid}/wchan").match?(/poll|futex/)
      flunk "process #{pid} never blocked" if now > deadline
      sleep 0.005 # a poll with an upper bound, not a wait for things to settle
    end
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
