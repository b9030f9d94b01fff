# frozen_string_literal: true

# One timed run of one Ruby peer, as one line of JSON on stdout: the Ruby
# twin of bench/c/main.c and bench/python/runner.py, with the same output.
#
#   runner.rb PEER throughput SIZE SENDERS RECEIVERS COUNT
#   runner.rb PEER latency SECONDS
#   runner.rb --list
#
# Unlike the C and Python runners, receivers stop on an end marker (an empty
# message) that the runner sends each of them once every sender has exited:
# both Ruby peers are one ordered stream, so the markers come after every
# message, and Ruby has no shared memory to count in. Resource use comes from
# wait4 (through Fiddle: Process.wait gives no rusage), as in C and Python.
require "fiddle"
require "json"
require "tmpdir"
require_relative "peers"

module Bench
  PEERS = {
    "fq-queue" => [FqQueue, "FQ::Queue push/pop"],
    "io-pipe" => [IoPipe, "IO.pipe, length-prefixed"]
  }.freeze
  PING = 64
  HEAD = "fqbm"
  TAIL = "mbqf"

  # libc calls Ruby does not offer.
  module Libc
    LIB = Fiddle.dlopen(nil)
    I = Fiddle::TYPE_INT
    P = Fiddle::TYPE_VOIDP
    WAIT4 = Fiddle::Function.new(LIB["wait4"], [I, P, I, P], I)
    PRCTL = Fiddle::Function.new(LIB["prctl"], [I, Fiddle::TYPE_LONG], I)
    GETCPU = Fiddle::Function.new(LIB["sched_getcpu"], [], I)
    SETAFFINITY = Fiddle::Function.new(LIB["sched_setaffinity"], [I, Fiddle::TYPE_SIZE_T, P], I)
    GETAFFINITY = Fiddle::Function.new(LIB["sched_getaffinity"], [I, Fiddle::TYPE_SIZE_T, P], I)

    # [exit status word, user+sys seconds, peak RSS in KiB] of a child, reaped.
    def self.wait4(pid)
      status = Fiddle::Pointer.malloc(4, Fiddle::RUBY_FREE)
      ru = Fiddle::Pointer.malloc(144, Fiddle::RUBY_FREE) # struct rusage
      until WAIT4.call(pid, status, 0, ru) == pid
        raise SystemCallError.new("wait4", Fiddle.last_error) if Fiddle.last_error != Errno::EINTR::Errno
      end

      us, uu, ss, su, maxrss = ru[0, 40].unpack("q5")
      [status[0, 4].unpack1("l"), us + ss + (uu + su) / 1e6, maxrss]
    end

    def self.affinity
      mask = Fiddle::Pointer.malloc(128, Fiddle::RUBY_FREE)
      GETAFFINITY.call(0, 128, mask)
      mask[0, 128]
    end

    def self.affinity=(bytes)
      mask = Fiddle::Pointer.malloc(128, Fiddle::RUBY_FREE)
      mask[0, 128] = bytes
      raise SystemCallError.new("sched_setaffinity", Fiddle.last_error) if SETAFFINITY.call(0, 128, mask) != 0
    end

    def self.pin_here
      cpu = GETCPU.call
      self.affinity = ("\0" * 128).b.tap { |m| m.setbyte(cpu / 8, 1 << (cpu % 8)) }
    end
  end

  # A message of `size` bytes (at least 12) from sender `sender`; Strings are
  # made once and sent every time, as in Python (bench/python/payload.py).
  def self.make(size, sender)
    ([sender].pack("L<") + HEAD + ("\0" * (size - 12)) + TAIL).b
  end

  # The sender index of a whole message, or -1.
  def self.check(msg, size, senders)
    return -1 if msg.bytesize != size || msg.byteslice(4, 4) != HEAD || msg.byteslice(-4, 4) != TAIL

    s = msg.unpack1("L<")
    s < senders ? s : -1
  end

  # Children start on an event, never on a sleep: each says it is ready on
  # one pipe and waits on another; the runner starts all at once.
  class Gate
    def initialize
      @ready_r, @ready_w = IO.pipe
      @go_r, @go_w = IO.pipe
    end

    # fork; the child dies with the runner (PR_SET_PDEATHSIG), so a runner
    # killed for taking too long leaves nothing behind.
    def fork
      parent = Process.pid
      Process.fork do
        exit!(2) if Libc::PRCTL.call(1, 9) != 0 || Process.ppid != parent
        @ready_r.close
        @go_w.close
        begin
          yield
        rescue Exception => e # rubocop:disable Lint/RescueException -- reported, then status 2
          warn "#{e.class}: #{e.message}"
          exit!(2)
        end
        exit!(0)
      end
    end

    def child_wait
      @ready_w.write("1")
      @ready_w.close # a sibling dying early shows as EOF in the runner
      @go_r.read # EOF: the start
    end

    # Once every child is forked: waits for all n, then starts them; the
    # start time, or nil if a child died first.
    def open(count)
      @ready_w.close
      @go_r.close
      ok = @ready_r.read(count)&.bytesize == count
      t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      @go_w.close
      ok ? t0 : nil
    end
  end

  # One side's user+sys CPU (summed) and largest peak RSS.
  class Usage
    attr_reader :cpu, :rss

    def initialize
      @cpu = 0.0
      @rss = 0
    end

    def add(cpu, rss)
      @cpu += cpu
      @rss = [@rss, rss].max
    end
  end

  def self.now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

  def self.throughput(cls, path, size, senders, receivers, count, out)
    out[:messages] = senders * count
    chan = cls.new(path, size, senders, receivers)
    gate = Gate.new
    tally_r, tally_w = IO.pipe
    kids = {} # pid => a sender?
    receivers.times do
      pid = gate.fork do
        tally_r.close
        gate.child_wait
        n = bad = 0
        until (msg = chan.recv_msg).empty?
          n += 1
          bad += 1 if check(msg, size, senders).negative?
        end
        tally_w.write("#{n} #{bad}\n")
      end
      kids[pid] = false
    end
    senders.times do |s|
      pid = gate.fork do
        tally_r.close
        tally_w.close
        msg = make(size, s)
        gate.child_wait
        count.times { chan.send_msg(msg) }
        chan.close
      end
      kids[pid] = true
    end
    tally_w.close
    $stdout.flush
    t0 = gate.open(kids.size)
    send = Usage.new
    recv = Usage.new
    failed = t0.nil?
    kids.select { |_, sender| sender }.each_key do |pid|
      status, cpu, rss = Libc.wait4(pid)
      send.add(cpu, rss)
      failed ||= status != 0
    end
    unless failed
      receivers.times { chan.send_msg(+"") }
      tallies = Array.new(receivers) { tally_r.gets&.split&.map(&:to_i) }
      failed = tallies.any?(&:nil?)
      t1 = now
    end
    kids.reject { |_, sender| sender }.each_key do |pid|
      Process.kill(:KILL, pid) if failed # only this run's children, by pid
      status, cpu, rss = Libc.wait4(pid)
      recv.add(cpu, rss)
      failed ||= status != 0
    end
    out[:received] = failed ? 0 : tallies.sum(&:first)
    out[:bad] = failed ? 0 : tallies.sum(&:last)
    out[:seconds] = failed ? 0.0 : t1 - t0
    chan.destroy
    out[:status] = if failed then "error"
                   elsif out[:received] < out[:messages] then "lost"
                   elsif out[:bad].positive? || out[:received] > out[:messages] then "corrupt"
                   else "ok"
                   end
    [send, recv]
  end

  # Ping-pong on two channels, both ends on one CPU (see bench/c/latency.c).
  def self.latency(cls, path, seconds, out)
    ping = cls.new("#{path}-ping", PING, 1, 1)
    pong = cls.new("#{path}-pong", PING, 1, 1)
    gate = Gate.new
    result_r, result_w = IO.pipe
    everywhere = Libc.affinity
    Libc.pin_here
    echo = gate.fork do
      result_r.close
      gate.child_wait
      loop do
        msg = ping.recv_msg
        pong.send_msg(msg)
        break if check(msg, PING, 2) != 0
      end
    end
    pinger = gate.fork do
      result_r.close
      msg = make(PING, 0)
      last = make(PING, 1)
      rtt = []
      bad = 0
      gate.child_wait
      start = now
      loop do
        t0 = now
        done = t0 - start >= seconds && rtt.size >= 100
        ping.send_msg(done ? last : msg)
        back = pong.recv_msg
        rtt << now - t0
        bad += 1 if (check(back, PING, 2) == 1) != done
        break if done
      end
      rtt.sort!
      result_w.write([rtt[rtt.size / 2], rtt[(rtt.size * 0.99).to_i], rtt.size, bad].join(" "))
    end
    Libc.affinity = everywhere
    result_w.close
    $stdout.flush
    t0 = gate.open(2)
    send = Usage.new
    recv = Usage.new
    p50, p99, rounds, bad = result_r.read.split.map(&:to_f)
    failed = t0.nil? || rounds.nil?
    Process.kill(:KILL, echo) if failed
    [[pinger, send], [echo, recv]].each do |pid, side|
      status, cpu, rss = Libc.wait4(pid)
      side.add(cpu, rss)
      failed ||= status != 0
    end
    out[:seconds] = now - (t0 || now)
    ping.destroy
    pong.destroy
    out.update(messages: rounds.to_i, received: rounds.to_i, bad: bad.to_i,
               p50_us: p50.to_f * 1e6, p99_us: p99.to_f * 1e6)
    out[:status] = if failed then "error"
                   elsif bad.to_i.positive? then "corrupt"
                   else "ok"
                   end
    [send, recv]
  end

  def self.usage
    warn "usage: runner.rb PEER throughput SIZE SENDERS RECEIVERS COUNT | PEER latency SECONDS | --list"
    2
  end

  def self.main(argv)
    if argv == ["--list"]
      PEERS.each { |id, (_, name)| puts "#{id}\t#{name}" }
      return 0
    end
    return usage unless argv.size >= 3 && PEERS.key?(argv[0])

    cls = PEERS[argv[0]].first
    nums = argv[2..].map { |a| Float(a) }
    size, senders, receivers = nums.size == 4 ? nums[0, 3].map(&:to_i) : [PING, 1, 1]
    out = { lang: "ruby", peer: argv[0], workload: argv[1], size: size, senders: senders,
            receivers: receivers }
    send = recv = Usage.new
    Dir.mktmpdir("fq-bench-") do |dir|
      path = File.join(dir, "channel")
      if argv[1] == "throughput" && nums.size == 4
        send, recv = throughput(cls, path, size, senders, receivers, nums[3].to_i, out)
      elsif argv[1] == "latency" && nums.size == 1
        send, recv = latency(cls, path, nums[0], out)
      else
        return usage
      end
    rescue NotAvailable => e
      out.update(status: "na", na: e.message)
    end
    out.update(cpu_send_s: send.cpu, cpu_recv_s: recv.cpu, rss_send_kb: send.rss, rss_recv_kb: recv.rss)
    puts JSON.generate(out)
    %w[ok na].include?(out[:status]) ? 0 : 1
  end
end

exit Bench.main(ARGV)
