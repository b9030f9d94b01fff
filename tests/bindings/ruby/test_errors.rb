# The exceptions: one per line of core/errors.def, each an FQ::Error and a Ruby class.
require "pathname"
require "test_helper"

class ErrorsTest < FQTest
  TABLE = File.read(ENV.fetch("FQ_ERRORS_DEF"))
               .scan(/^FQ_ERR\(([A-Z]+), *(-[0-9]+), *([A-Za-z]+), *"([^"]*)"\)/)

  def test_every_error_of_the_table_has_a_class
    assert_operator TABLE.size, :>=, 17
    TABLE.each do |name, value, cls_name, text|
      cls = FQ.const_get(cls_name)
      code = Integer(value)
      assert_operator cls, :<=, FQ::Error
      assert_equal code, cls::CODE
      assert_equal code, FQ::Ext.const_get("FQ_E#{name}")
      assert_equal text, cls::TEXT
      assert_equal text, FQ::Ext.fq_strerror(code)
      e = FQ.error(code, Errno::EMFILE::Errno)
      assert_kind_of cls, e
      assert_kind_of FQ::Error, e
      assert_equal code, e.code
    end
  end

  def test_ruby_bases
    assert_operator FQ::Timeout, :<, Timeout::Error
    assert_operator FQ::NotFound, :<, Errno::ENOENT
    assert_operator FQ::PermissionDenied, :<, Errno::EACCES
    assert_operator FQ::InvalidArgument, :<, ArgumentError
    assert_operator FQ::Closed, :<, ClosedQueueError
    assert_operator FQ::WouldBlock, :<, ThreadError
    assert_operator FQ::WrongMode, :<, IOError
    assert_operator FQ::LeaseLost, :<, StandardError
  end

  def test_system_error_is_the_errno_exception
    e = FQ.error(FQ::Ext::FQ_ESYS, Errno::ENOSPC::Errno, "q.fifo")
    assert_instance_of Errno::ENOSPC, e
    assert_kind_of FQ::SystemError, e
    assert_kind_of FQ::Error, e
    assert_equal [FQ::Ext::FQ_ESYS, Errno::ENOSPC::Errno], [e.code, e.errno]
    assert_equal "No space left on device - q.fifo", e.message
  end

  def test_messages_name_the_path
    e = assert_raises(FQ::NotFound) { FQ::Queue.open(File.join(@dir, "none", "q.fifo")) }
    assert_equal "No such file or directory - #{@dir}/none/q.fifo", e.message
    File.write(File.join(@dir, "plain"), "")
    e = assert_raises(FQ::NotAFifo) { FQ::Queue.open(File.join(@dir, "plain")) }
    assert_equal "#{@dir}/plain: not a FIFO", e.message
    File.symlink(@path, File.join(@dir, "link"))
    assert_raises(Errno::ELOOP) { FQ::Queue.open(File.join(@dir, "link")) }
    assert_raises(FQ::NotFound) { FQ.unlink(@path) }
    assert_raises(ArgumentError) { FQ::Queue.open("nul\0byte") }
  end

  def test_a_timeout_is_rescued_as_a_timeout
    FQ::Queue.open(@path) do |q|
      t0 = now
      begin
        q.lease(timeout: 0.1)
        flunk "no timeout"
      rescue Timeout::Error => e
        assert_kind_of FQ::Timeout, e
      end
      assert_in_delta 0.1, now - t0, 0.09
    end
  end

  def test_wrong_types
    FQ::Queue.open(@path) do |q|
      assert_raises(TypeError) { q.push(nil) }
      assert_raises(TypeError) { q.push(:symbol) }
      assert_raises(TypeError) { q << 42 }
      assert_raises(ArgumentError) { q.pop(timeout: -1) }
      assert_raises(ArgumentError) { q.pop(timeout: "1") }
      assert_raises(ArgumentError) { q.pop(true, timeout: 1) }
      assert_raises(ArgumentError) { q.push("x", true, timeout: 1) }
      assert_raises(ArgumentError) { q.recv_msg(timeout: :forever) }
      assert_raises(TypeError) { FQ::Queue.open(nil) }
      assert_raises(TypeError) { FQ::Queue.open(@path, mode: "0600") }
      assert_raises(FQ::InvalidArgument) { FQ::Queue.open(@path, mode: 0o10000) }
      assert_raises(ArgumentError) { FQ::Queue.open(@path, bogus: 1) }
      assert_raises(TypeError) { FQ::Ext.fq_send_timeout("not a handle", "x", 0) }
      assert_raises(FQ::InvalidArgument) { FQ::Ext.fq_close(nil) }
      assert_predicate q, :empty?, "nothing was sent"
    end
  end

  def test_strings_that_convert_are_taken
    to_str = Object.new
    to_str.define_singleton_method(:to_str) { "via to_str" }
    FQ::Queue.open(Pathname(@path)) do |q|
      q << to_str
      assert_equal "via to_str", q.pop(timeout: LIMIT)
    end
  end
end
