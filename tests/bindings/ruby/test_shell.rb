# Messages that cross to C (fqctl) and the shell, byte for byte.
require "test_helper"

class ShellTest < FQTest
  def test_fqctl_receives_what_ruby_sends
    FQ::Queue.open(@path) do |q|
      q << "from ruby" << "caf\u00e9".encode("UTF-8") << "\xFF\xFE raw".b
      out = fqctl("recv", @path, "-n", "3", "--timeout", LIMIT.to_s)
      assert_equal "from ruby\ncafé\n\xFF\xFE raw\n".b, out.b
    end
  end

  def test_ruby_receives_what_fqctl_sends
    FQ::Queue.open(@path) do |q|
      fqctl("send", @path, "one", "tw\u00f6")
      got = [q.pop(timeout: LIMIT), q.pop(timeout: LIMIT)]
      assert_equal ["one", "tw\u00f6".b], got
      assert_equal [Encoding::ASCII_8BIT] * 2, got.map(&:encoding)
      assert_nil q.pop(timeout: 0)
    end
  end

  def test_echo_sends_lines
    FQ::Queue.open(@path) do |q|
      system("echo 'job 1' >> #{@path} && printf 'job 2\\njob 3\\n' >> #{@path}", exception: true)
      assert_equal ["job 1", "job 2", "job 3"], 3.times.map { q.pop(timeout: LIMIT) }
      assert_nil q.pop(timeout: 0), "one message per line"
    end
  end

  def test_a_c_program_receives_from_a_ruby_child
    pid = child { FQ::Queue.open(@path) { |q| q << "from a ruby child" } }
    wait_ok(pid)
    assert_equal "from a ruby child\n", fqctl("recv", @path, "--timeout", LIMIT.to_s),
                 "the queue outlives the Ruby process"
  end
end
