# Signals and thread interrupts reach a blocked call; other signals do not stretch a timeout.
require "test_helper"

class SignalsTest < FQTest
  BLOCKED = <<~RUBY
    require "fq"
    q = FQ::Queue.open(ARGV[0], room_msgs: 1)
    q << "fills the queue" if ARGV[1] == "q.push('x')"
    $stdout.puts "ready"
    $stdout.flush
    eval(ARGV[1])
  RUBY

  { pop: "q.pop", lease: "q.lease", recv_msg: "q.recv_msg", push: "q.push('x')",
    join: "q.push('unfinished'); q.join" }.each do |name, call|
    define_method("test_ctrl_c_interrupts_a_blocked_#{name}") do
      Open3.popen3(*ruby_command(BLOCKED, @path, call)) do |_in, out, err, wait|
        assert_equal "ready\n", out.gets
        wait_until_blocked(wait.pid)
        t0 = now
        Process.kill(:INT, wait.pid)
        assert wait.join(LIMIT), "#{call} was not interrupted"
        assert_operator now - t0, :<, 5
        # An uncaught Interrupt ends Ruby by SIGINT, as a shell expects.
        stderr = err.read
        assert_equal Signal.list["INT"], wait.value.termsig, stderr
        assert_match(/Interrupt/, stderr)
      end
    end
  end

  def test_thread_kill_and_raise_reach_a_blocked_pop
    FQ::Queue.open(@path) do |q|
      t = Thread.new { q.pop }
      Thread.pass until t.status == "sleep"
      t.kill
      assert t.join(LIMIT), "Thread#kill did not end a blocked pop"
      t = Thread.new { q.lease }
      t.report_on_exception = false
      Thread.pass until t.status == "sleep"
      t.raise(IOError, "from outside")
      e = assert_raises(IOError) { t.join(LIMIT) }
      assert_equal "from outside", e.message
      q << "still works"
      assert_equal "still works", q.pop(timeout: LIMIT), "nothing was taken by the killed calls"
    end
  end

  def test_a_trap_handler_that_returns_does_not_restart_the_timeout
    ticks = 0
    old = trap(:USR1) { ticks += 1 }
    parent = Process.pid
    ticker = child { 10.times { sleep 0.05; Process.kill(:USR1, parent) } }
    FQ::Queue.open(@path) do |q|
      t0 = now
      assert_nil q.pop(timeout: 0.5)
      elapsed = now - t0
      assert_raises(FQ::Timeout) { q.lease(timeout: 0.1) }
      wait_ok(ticker)
      assert_operator ticks, :>=, 3, "the handler ran while pop waited"
      assert_operator elapsed, :>=, 0.5
      assert_operator elapsed, :<, 1.5, "the timeout was restarted after a signal"
    end
  ensure
    trap(:USR1, old)
  end

  def test_a_trap_handler_that_raises_propagates
    old = trap(:USR1) { raise "from the handler" }
    parent = Process.pid
    FQ::Queue.open(@path) do |q|
      # Once pop blocks: a signal sent at once can land while the parent is
      # still in fork, and raise from there.
      pid = child do
        wait_until_blocked(parent)
        Process.kill(:USR1, parent)
      end
      e = assert_raises(RuntimeError) { q.pop }
      assert_equal "from the handler", e.message
      wait_ok(pid)
    end
  ensure
    trap(:USR1, old)
  end

  def test_ruby_is_debians
    assert_equal "/usr/bin/ruby", RbConfig.ruby.sub(/[\d.]+\z/, "")
  end
end
