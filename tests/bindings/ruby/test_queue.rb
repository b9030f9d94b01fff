# FQ::Queue as Thread::Queue: open, push, pop, close, size, each; across processes.
require "test_helper"

class QueueTest < FQTest
  def test_open_creates_a_private_fifo_and_the_block_form_closes
    q = FQ::Queue.open(@path) do |queue|
      assert_equal "fifo", File.ftype(@path)
      assert_equal 0o600, File.stat(@path).mode & 0o777
      refute_predicate queue, :closed?
      queue
    end
    assert_predicate q, :closed?
    assert_equal "#<FQ::Queue #{@path} closed>", q.inspect
    assert_equal 42, FQ::Queue.open(@path) { 42 }, "the block's value"
  end

  def test_mode_and_limits_for_a_new_queue
    FQ::Queue.open(@path, mode: 0o640, room_msgs: 3, max_msg: 10) do |q|
      assert_equal 0o640, File.stat(@path).mode & 0o777
      assert_equal 3, q.stats[:room_msgs]
      assert_raises(FQ::MessageTooLarge) { q.push("x" * 11) }
      3.times { q << "m" }
      assert_nil q.push("full", timeout: 0.05), "as SizedQueue#push(timeout:) when full"
      e = assert_raises(ThreadError) { q.push("full", true) }
      assert_kind_of FQ::WouldBlock, e
    end
  end

  def test_push_and_pop_in_order_as_binary_strings
    payloads = ["héllo", "\x00\xFF\x00".b, "", "L" * 200_000, "utf-16".encode("UTF-16LE")]
    FQ::Queue.open(@path) do |q|
      assert_same q, q.push(payloads[0])
      assert_same q, q << payloads[1] << payloads[2]
      q.enq(payloads[3])
      q.push(payloads[4])
      got = [q.pop, q.shift, q.deq, q.pop(timeout: LIMIT), q.pop]
      got.each_with_index do |s, i|
        assert_equal Encoding::ASCII_8BIT, s.encoding
        assert_equal payloads[i].b, s, "message #{i}: the bytes, whatever the encoding"
      end
    end
  end

  def test_pop_with_a_timeout_returns_nil_and_non_blocking_raises_thread_error
    FQ::Queue.open(@path) do |q|
      t0 = now
      assert_nil q.pop(timeout: 0.2)
      assert_in_delta 0.2, now - t0, 0.15
      assert_nil q.pop(timeout: 0)
      e = assert_raises(ThreadError) { q.pop(true) }
      assert_kind_of FQ::Error, e
      q << "x"
      assert_equal "x", q.pop(true)
    end
  end

  def test_size_and_empty
    FQ::Queue.open(@path) do |q|
      assert_predicate q, :empty?
      assert_equal 0, q.size
      q << "a" << "b"
      refute_predicate q, :empty?
      assert_equal 2, q.size
      assert_equal 2, q.length
      q.pop
      assert_equal 1, q.size
    end
  end

  def test_each_and_enumerable
    FQ::Queue.open(@path) do |q|
      %w[a b c d].each { |m| q << m }
      assert_equal %w[a b], q.first(2)
      assert_equal %w[C], q.lazy.map(&:upcase).first(1)
      assert_kind_of Enumerator, q.each
      got = []
      t = Thread.new { q.each { |m| got << m } }
      q << "e"
      Thread.pass until q.empty?
      FQ.unlink(@path) # the queue is removed: FQ::Closed ends each
      assert t.join(LIMIT), "each did not end when the queue was removed"
      assert_equal %w[d e], got
    end
  end

  def test_closed_queue
    q = FQ::Queue.open(@path)
    q << "kept"
    assert_same q, q.close
    assert_same q, q.close, "closing twice is fine"
    %i[pop size empty? stats policy].each do |m|
      e = assert_raises(FQ::Closed, m) { q.public_send(m) }
      assert_kind_of ClosedQueueError, e
      assert_equal "queue #{@path} is closed", e.message
    end
    assert_raises(ClosedQueueError) { q << "x" }
    assert_raises(StopIteration) { q.pop(true) }
    FQ::Queue.open(@path) { |other| assert_equal "kept", other.pop(true), "the queue outlives the handle" }
  end

  def test_close_while_another_thread_waits_closes_when_the_call_returns
    q = FQ::Queue.open(@path)
    t = Thread.new { q.pop }
    Thread.pass until t.status == "sleep"
    q.close
    assert_predicate q, :closed?
    FQ::Queue.open(@path) { |other| other << "wakes it" }
    assert_equal "wakes it", t.value
    assert_raises(FQ::Closed) { q.pop }
  end

  def test_other_threads_run_while_one_waits
    FQ::Queue.open(@path) do |q|
      t = Thread.new { q.pop }
      # With the GVL held by the waiting pop, this thread could not push.
      Thread.pass until t.status == "sleep"
      q << "from the main thread"
      assert_equal "from the main thread", t.value
    end
  end

  def test_many_senders_and_receivers_across_processes
    FQ::Queue.open(@path) do |q|
      senders = 4.times.map do |s|
        child { FQ::Queue.open(@path) { |cq| 250.times { |i| cq << "#{s}:#{i}" } } }
      end
      out_r, out_w = IO.pipe
      receivers = 3.times.map do
        child do
          out_r.close
          FQ::Queue.open(@path) do |cq|
            while (m = cq.pop(timeout: LIMIT)) != "stop"
              raise "timed out" unless m

              out_w.puts m
            end
          end
        end
      end
      out_w.close
      senders.each { |pid| wait_ok(pid) }
      3.times { q << "stop" }
      got = out_r.read.split("\n")
      receivers.each { |pid| wait_ok(pid) }
      expected = 4.times.flat_map { |s| 250.times.map { |i| "#{s}:#{i}" } }
      assert_equal expected.sort, got.sort, "each message exactly once"
      4.times do |s|
        mine = got.select { |m| m.start_with?("#{s}:") }.map { |m| m.split(":")[1].to_i }
        assert_equal mine.size, mine.uniq.size
      end
    end
  end

  def test_a_child_inherits_an_open_queue
    FQ::Queue.open(@path) do |q|
      pid = child { q << "from the child"; q.close }
      wait_ok(pid)
      assert_equal "from the child", q.pop(timeout: LIMIT)
      refute_predicate q, :closed?, "the child's close is its own"
    end
  end

  def test_an_unclosed_queue_is_closed_at_exit
    system(*ruby_command('require "fq"; FQ::Queue.open(ARGV[0]) << "left"', @path), exception: true)
    FQ::Queue.open(@path) { |q| assert_equal "left", q.pop(timeout: LIMIT) }
  end

  def test_version
    v = FQ.version
    assert_equal 3, v.size
    assert_operator v.first, :>=, 1
  end
end
