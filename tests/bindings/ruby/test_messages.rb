# Messages with their history: leases, retries, dead letters, policy, redrive, the dead log.
require "test_helper"

class MessagesTest < FQTest
  def test_recv_msg_has_a_history
    FQ::Queue.open(@path) do |q|
      q << "plain"
      m = q.recv_msg(timeout: LIMIT)
      assert_equal "plain", m.data
      assert_equal Encoding::ASCII_8BIT, m.data.encoding
      assert_equal [1, 0, "", ""], [m.attempts, m.deaths, m.origin, m.reason]
      assert_equal [nil, nil, nil, nil], [m.first_death, m.last_death, m.enqueued, m.not_before]
      refute_predicate m, :permanent?
      refute_predicate m, :leased?
      assert_nil m.ack, "a no-op without a lease"
      m.close
      assert_predicate m, :closed?
      e = assert_raises(FQ::Closed) { m.ack }
      assert_equal "message is closed", e.message
      assert_raises(FQ::Timeout) { q.recv_msg(timeout: 0.05) }
    end
  end

  def test_lease_ack_and_the_block_form
    FQ::Queue.open(@path) do |q|
      q << "job"
      value = q.lease(timeout: LIMIT) do |m|
        assert_predicate m, :leased?
        assert_equal 1, q.stats[:leased]
        m.ack
        refute_predicate m, :leased?
        :done
      end
      assert_equal :done, value
      assert_equal 0, q.stats[:held]
      assert_nil q.pop(timeout: 0)
    end
  end

  def test_retry_with_reason_and_delay
    FQ::Queue.open(@path) do |q|
      q << "job"
      q.lease { |m| m.retry("upstream said 503", delay: 0.2) }
      assert_raises(FQ::WouldBlock) { q.recv_msg(timeout: 0) } # not before its delay
      q.lease(timeout: LIMIT) do |m|
        assert_equal ["job", 2, "upstream said 503"], [m.data, m.attempts, m.reason]
        assert_kind_of Time, m.not_before
        assert_operator m.not_before, :<=, Time.now
        assert_kind_of Time, m.enqueued
        m.ack
      end
    end
  end

  def test_an_unsettled_lease_goes_back_when_closed
    FQ::Queue.open(@path) do |q|
      q << "job"
      q.lease.close
      q.lease(timeout: LIMIT) do |m|
        assert_equal ["job", 2], [m.data, m.attempts]
        m.ack
      end
    end
  end

  def test_a_lease_that_runs_out_is_lost
    FQ::Queue.open(@path) do |q|
      q << "job"
      m = q.lease(lease: 0.05)
      again = q.lease(timeout: LIMIT)
      assert_equal 2, again.attempts
      assert_raises(FQ::LeaseLost) { m.ack }
      again.ack
      [m, again].each(&:close)
    end
  end

  def test_fail_by_policy_then_dead_letter_the_dead_log_and_redrive
    FQ::Queue.open(@path) do |q|
      policy = q.set_policy(max_attempts: 2, backoff_base_ms: 10, jitter_pct: 0)
      assert_equal FQ::Policy.new(max_attempts: 2, lease_ms: 30_000, backoff_base_ms: 10,
                                  backoff_cap_ms: 600_000, backoff_factor: 2.0, jitter_pct: 0), policy
      assert_equal policy, q.policy
      q << "job"
      assert_equal 0.01, q.lease { |m| m.fail("flaky") }
      assert_nil q.lease(timeout: LIMIT) { |m| m.fail("flaky again") }, "dead-lettered after 2"
      assert_equal 1, q.stats[:dead_lettered]
      FQ::Queue.open("#{@path}.dlq") do |dlq|
        dlq.lease(timeout: LIMIT) do |m|
          assert_equal ["job", 1, @path, "flaky again"], [m.data, m.deaths, m.origin, m.reason]
          assert_equal Encoding::UTF_8, m.reason.encoding
          assert_kind_of Time, m.first_death
          assert_in_delta Time.now, m.last_death, 60
          m.close # unsettled: back into the dead-letter queue
        end
        assert_equal 1, dlq.redrive
        assert_equal 0, dlq.size
      end
      q.lease(timeout: LIMIT) do |m|
        assert_equal ["job", 1, 1], [m.data, m.attempts, m.deaths], "attempts reset, history kept"
        m.dead_letter("given up")
      end
      dead = FQ.dead_letters(@path).map { |m| [m.data, m.reason, m.deaths] }
      assert_equal [["job", "flaky again", 1], ["job", "given up", 2]], dead
      FQ.dead_letters(@path) { |m| refute_predicate m, :leased? }
    end
  end

  def test_fail_permanent_dead_letters_at_once_and_redrive_to_another_queue
    other = FQ::Queue.open(File.join(@dir, "other.fifo"))
    FQ::Queue.open(@path) do |q|
      q << "bad input"
      assert_nil q.lease { |m| m.fail("cannot parse", permanent: true) }
      FQ::Queue.open("#{@path}.dlq") do |dlq|
        dlq.recv_msg(timeout: LIMIT) do |m|
          assert_predicate m, :permanent?
          dlq.push(m.data) # put it back for redrive
        end
        assert_equal 1, dlq.redrive(to: other.path)
      end
      assert_equal "bad input", other.pop(timeout: LIMIT)
    end
  ensure
    other.close
    FQ.unlink(other.path)
  end

  def test_a_killed_holder_gives_its_lease_to_the_next_receiver
    FQ::Queue.open(@path) do |q|
      q << "job"
      ready_r, ready_w = IO.pipe
      pid = child do
        FQ::Queue.open(@path) do |cq|
          cq.lease(timeout: LIMIT)
          ready_w.puts "leased"
          sleep # until killed
        end
      end
      ready_w.close
      assert_equal "leased\n", ready_r.gets
      Process.kill(:KILL, pid)
      Process.wait(pid)
      q.lease(timeout: LIMIT) do |m|
        assert_equal ["job", 2], [m.data, m.attempts]
        m.ack
      end
    end
  end

  def test_bad_input
    FQ::Queue.open(@path) do |q|
      assert_raises(ArgumentError) { q.set_policy(bogus: 1) }
      e = assert_raises(FQ::InvalidArgument) { q.set_policy(max_attempts: 0) }
      assert_kind_of ArgumentError, e
      assert_raises(TypeError) { q.set_policy(max_attempts: "3") }
      assert_equal 5, q.policy.max_attempts, "unchanged"
      assert_raises(TypeError) { q.redrive(to: 42) }
      assert_raises(ArgumentError) { q.lease(timeout: -1) }
      q << "job"
      m = q.lease
      assert_raises(TypeError) { m.retry(:symbol) }
      assert_raises(ArgumentError) { m.dead_letter("nul\0byte") }
      assert_predicate m, :leased?, "still held"
      m.ack
      m.close
      assert_raises(FQ::Closed) { m.fail }
      assert_raises(FQ::NotFound) { FQ.dead_letters(File.join(@dir, "none")).to_a }
    end
  end
end
