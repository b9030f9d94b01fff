# Messages that cross to Python (the fq package of this build), byte for byte.
# In CTest's list only when the Python package is built (FQ_PYTHON is set).
require "test_helper"

class PythonTest < FQTest
  def python(code, *args, stdin: "")
    env = { "PYTHONPATH" => ENV.fetch("FQ_PYTHONPATH"), "PYTHONDONTWRITEBYTECODE" => "1" }
    out, err, status = Open3.capture3(env, ENV.fetch("FQ_PYTHON"), "-c", code, *args, stdin_data: stdin)
    assert status.success?, "python: #{err}"
    out
  end

  PAYLOADS = ["from ruby", "\x00\xFF\x00".b, "", "L" * 100_000, "caf\u00e9"].freeze

  def test_python_receives_what_ruby_sends
    FQ::Queue.open(@path) do |q|
      PAYLOADS.each { |p| q << p }
      out = python(<<~PY, @path, PAYLOADS.size.to_s)
        import sys, fq
        with fq.Queue(sys.argv[1]) as q:
            for _ in range(int(sys.argv[2])):
                print(q.recv(timeout=10).hex())
      PY
      assert_equal PAYLOADS.map { |p| p.unpack1("H*") }, out.split("\n", -1)[0...-1]
    end
  end

  def test_ruby_receives_what_python_sends
    FQ::Queue.open(@path) do |q|
      python(<<~PY, @path, stdin: PAYLOADS.map { |p| "#{p.unpack1('H*')}\n" }.join)
        import sys, fq
        with fq.Queue(sys.argv[1]) as q:
            for line in sys.stdin:
                q.send(bytes.fromhex(line))
            q.put({"pickled": True})
      PY
      PAYLOADS.each { |p| assert_equal p.b, q.pop(timeout: LIMIT) }
      pickled = q.pop(timeout: LIMIT)
      assert pickled.start_with?("\xFFfqp".b), "put() sends Python's pickle format (bindings/README.md)"
    end
  end

  def test_a_python_lease_sees_the_history_ruby_gave
    FQ::Queue.open(@path) do |q|
      q << "job"
      q.lease { |m| m.retry("ruby gave up") }
      out = python(<<~PY, @path)
        import sys, fq
        with fq.Queue(sys.argv[1]) as q, q.lease(timeout=10) as m:
            print(m.data.decode(), m.attempts, m.reason)
            m.ack()
      PY
      assert_equal "job 2 ruby gave up\n", out
    end
  end
end
