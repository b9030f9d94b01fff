# task_done and join: the queue's own count of unfinished messages, across processes.
require "test_helper"

class JoinableTest < FQTest
  def test_join_returns_only_after_the_last_task_done_in_another_process
    FQ::Queue.open(@path) do |q|
      q << "a" << "b"
      assert_nil q.join(timeout: 0), "two messages unfinished"
      joiner = Thread.new { q.join(timeout: LIMIT) }
      deadline = now + LIMIT
      Thread.pass until joiner.status == "sleep" || now > deadline
      assert_equal "sleep", joiner.status, "join waits without the GVL"
      progress, tell = IO.pipe
      gate, open_gate = IO.pipe
      consumer = child do
        2.times do |i|
          q.pop(timeout: LIMIT) or raise "no message"
          gate.read(1) if i == 1
          q.task_done
          tell.puts i if i.zero?
        end
      end
      assert_equal "0\n", progress.gets, "the consumer finished one task"
      assert joiner.alive?, "join returned with a task unfinished"
      assert_nil q.join(timeout: 0), "one message unfinished"
      open_gate.write("x")
      assert_same q, joiner.value, "join returned after the last task_done"
      wait_ok(consumer)
      assert_equal 0, q.stats[:unfinished]
    end
  end

  def test_task_done_too_many_times_raises
    FQ::Queue.open(@path) do |q|
      assert_raises(FQ::InvalidArgument) { q.task_done }
      q << "job"
      assert_equal "job", q.pop(timeout: LIMIT)
      q.task_done
      e = assert_raises(ArgumentError) { q.task_done }
      assert_kind_of FQ::Error, e
      assert_same q, q.join(timeout: 0), "the extra call did not push the count below zero"
    end
  end

  def test_join_timeout_returns_nil_on_time
    FQ::Queue.open(@path) do |q|
      q << "never done"
      t0 = now
      assert_nil q.join(timeout: 0.2)
      assert_operator now - t0, :>=, 0.2
      assert_operator now - t0, :<, 2
    end
  end

  def test_a_child_that_exits_before_its_pushes_are_consumed
    FQ::Queue.open(@path) do |q|
      wait_ok(child { 3.times { |i| q << "item #{i}" } })
      assert_equal 3, q.stats[:unfinished]
      3.times do |i|
        assert_equal "item #{i}", q.pop(timeout: LIMIT)
        q.task_done
      end
      assert_same q, q.join(timeout: LIMIT)
    end
  end
end
