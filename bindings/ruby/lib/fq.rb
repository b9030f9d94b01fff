# frozen_string_literal: true

# fq: a message queue on a Linux named pipe, between processes on one machine.
#
#   FQ::Queue.open("/tmp/jobs.fifo") do |q|   # as Thread::Queue, across processes
#     q << "resize img-42.png"
#     q.pop(timeout: 5)                        # => "resize img-42.png" (ASCII-8BIT)
#   end
#
# Messages are Strings of bytes, the same bytes C, Python and the shell see.
# Errors are exceptions that include FQ::Error (bindings/README.md).
require "fq/fq_ext" # FQ::Ext, made by SWIG from bindings/fq.i: the C API one to one
require "fq/errors" # the exceptions, generated from core/errors.def

module FQ
  INT_MAX = 2**31 - 1
  private_constant :INT_MAX

  # The C library's version as [major, minor, patch].
  def self.version
    v = Ext.fq_version
    [v / 10_000, v / 100 % 100, v % 100]
  end

  # Removes the queue at `path`: the FIFO, its state, its pending payloads.
  # Processes still holding it get FQ::Closed.
  def self.unlink(path)
    path = File.path(path)
    with_path(path) { Ext.fq_unlink(path) }
    nil
  end

  # Every message ever dead-lettered from the queue at `queue_path` (its dead
  # log, <path>.fq-dead), oldest first, as FQ::Message objects freed after
  # the block. Without a block, an Enumerator.
  def self.dead_letters(queue_path)
    return enum_for(__method__, queue_path) unless block_given?

    queue_path = File.path(queue_path)
    log = with_path(queue_path) { Ext.fq_dead_open(queue_path) }
    begin
      while true # not `loop`: it would swallow FQ::Closed, a StopIteration
        m = begin
          Ext.fq_dead_next(log)
        rescue WouldBlock
          break
        end
        Message.new(m).use { |msg| yield msg }
      end
    ensure
      Ext.fq_dead_close(log)
    end
    nil
  end

  # Calls the block with the milliseconds left of `timeout` seconds (-1:
  # nil, forever) until it is not interrupted: the one place a signal's
  # FQ::Interrupted is retried, always with the time left. The C module has
  # already run Ruby's interrupts, so Ctrl-C raised Interrupt there.
  def self.retrying(timeout)
    unless timeout.nil? || (timeout.is_a?(Numeric) && timeout >= 0)
      raise ArgumentError, "timeout must be nil or a number >= 0, not #{timeout.inspect}"
    end

    deadline = timeout && now + timeout
    while true # not `loop`: it would swallow FQ::Closed, a StopIteration
      ms = deadline ? ((deadline - now) * 1000).ceil.clamp(0, INT_MAX) : -1
      begin
        return yield(ms)
      rescue Interrupted
        next
      rescue Timeout
        raise if now >= deadline # else more than INT_MAX ms: wait the rest
      rescue WouldBlock
        raise if timeout.zero? # "do not wait" rather than "the time ran out"

        raise Timeout # interrupted with no time left: the retry polled
      end
    end
  end

  def self.now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Names `path` in an fq error the block raises ("No such file or directory - q.fifo").
  def self.with_path(path)
    yield
  rescue Error => e
    raise error(e.code, e.is_a?(SystemCallError) ? e.errno : 0, path)
  end
  private_class_method :now

  # A C handle used by several threads: fq_close must not race a call in
  # progress, so the last call out frees it once close was asked for. A
  # handle nobody closed is freed when garbage collected, or at exit.
  class Handle
    def initialize(ptr, free, what)
      @ptr = ptr
      @free = free
      @what = what
      @users = 0
      @closing = false
      @lock = Thread::Mutex.new
      @pid = Process.pid
      ObjectSpace.define_finalizer(self, self.class.finalizer(ptr, free))
    end

    def self.finalizer(ptr, free)
      proc { Ext.send(free, ptr) }
    end

    # Yields the C handle; FQ::Closed once close was called.
    def use
      forked if @pid != Process.pid
      @lock.synchronize do
        raise Closed, "#{@what} is closed" if @closing

        @users += 1
      end
      begin
        yield @ptr
      ensure
        @lock.synchronize do
          @users -= 1
          free_now if @closing && @users.zero?
        end
      end
    end

    # Frees now, or when the last call in progress returns.
    def close
      forked if @pid != Process.pid
      @lock.synchronize do
        @closing = true
        free_now if @users.zero?
      end
      nil
    end

    def closed?
      @closing
    end

    private

    def free_now
      return unless @ptr

      ptr, @ptr = @ptr, nil
      ObjectSpace.undefine_finalizer(self)
      Ext.send(@free, ptr)
    end

    # A forked child: the parent's other threads, and their calls, are gone.
    def forked
      @users = 0
      @pid = Process.pid
    end
  end
  private_constant :Handle

  # A queue of messages between processes, on the FIFO at `path`, used as
  # Ruby's Thread::Queue (push, pop, close, Enumerable) plus leased messages
  # with retries and dead letters (lease, recv_msg).
  class Queue
    include Enumerable

    # Opens the queue at `path`, creating the FIFO (with `mode`) if missing.
    # max_msg, room_msgs, room_bytes: the largest message and what is queued
    # before push waits (0: fq's defaults, 64 MiB, 65536, 256 MiB); fixed
    # when the queue is first created. With a block, yields the queue and
    # closes it after; returns the block's value.
    def self.open(path, **opts)
      q = new(path, **opts)
      return q unless block_given?

      begin
        yield q
      ensure
        q.close
      end
    end

    attr_reader :path

    def initialize(path, mode: 0o600, max_msg: 0, room_msgs: 0, room_bytes: 0)
      @path = File.path(path)
      opts = Ext::Fq_opts.new
      opts.mode = mode
      opts.max_msg = max_msg
      opts.room_msgs = room_msgs
      opts.room_bytes = room_bytes
      flags = Ext::FQ_READ | Ext::FQ_WRITE | Ext::FQ_CREATE
      h = FQ.with_path(@path) { FQ.retrying(nil) { Ext.fq_open_opts(@path, flags, opts) } }
      @handle = Handle.new(h, :fq_close, "queue #{@path}")
    end

    def inspect
      "#<FQ::Queue #{@path}#{' closed' if closed?}>"
    end

    # Sends the String's bytes as one message (its encoding is not sent).
    # Waits only while the queue is full: forever, up to `timeout` seconds
    # (then returns nil), or not at all with non_block (then raises
    # FQ::WouldBlock, a ThreadError), as Thread::SizedQueue#push. Returns self.
    def push(data, non_block = false, timeout: nil)
      wait = wait_time(non_block, timeout)
      @handle.use { |h| FQ.retrying(wait) { |ms| Ext.fq_send_timeout(h, data, ms) } }
      self
    rescue WouldBlock, Timeout
      raise if non_block

      nil
    end
    alias enq push

    def <<(data)
      push(data)
    end

    # Takes the next message, a String (ASCII-8BIT). Waits for one: forever,
    # up to `timeout` seconds (then returns nil), or not at all with
    # non_block (then raises FQ::WouldBlock, a ThreadError), as
    # Thread::Queue#pop. At most once: a process that dies holding a message
    # loses it (see #lease).
    def pop(non_block = false, timeout: nil)
      wait = wait_time(non_block, timeout)
      @handle.use do |h|
        m = FQ.retrying(wait) { |ms| Ext.fq_recv_msg(h, ms) }
        begin
          Ext.fq_msg_data(m)
        ensure
          Ext.fq_msg_free(m)
        end
      end
    rescue WouldBlock, Timeout
      raise if non_block

      nil
    end
    alias shift pop
    alias deq pop

    # Yields each message as it comes, until the queue is removed (fq_unlink).
    def each
      return enum_for(__method__) unless block_given?

      loop { yield pop } # FQ::Closed is a StopIteration: it ends the loop
      self
    end

    # Closes this handle; the queue and what it holds stay for others. A call
    # in progress on another thread keeps the handle open until it returns.
    def close
      @handle.close
      self
    end

    def closed?
      @handle.closed?
    end

    # Messages waiting, across all processes (lines from the shell not counted).
    def size
      stats[:queued_msgs]
    end
    alias length size

    def empty?
      size.zero?
    end

    # Marks one message taken from the queue as processed, as Python's
    # Queue#task_done: every message an fq sender pushes, from any process,
    # counts as unfinished until some process calls this once for it (lines
    # from the shell do not count). Raises FQ::InvalidArgument (an
    # ArgumentError) when called more times than messages were pushed.
    def task_done
      @handle.use { |h| Ext.fq_task_done(h) }
      nil
    rescue InvalidArgument
      raise InvalidArgument, "task_done called more times than messages were pushed"
    end

    # Waits until every message pushed to the queue, by any process, is marked
    # done with #task_done: forever, or up to `timeout` seconds. Returns self,
    # or nil when the time runs out (as Thread#join). A message lost with a
    # killed process stays unfinished: pass a timeout where processes may die.
    def join(timeout: nil)
      @handle.use { |h| FQ.retrying(timeout) { |ms| Ext.fq_join(h, ms) } }
      self
    rescue WouldBlock, Timeout
      nil
    end

    # Receives one message with its history, at most once. Raises
    # FQ::Timeout (a Timeout::Error) after `timeout` seconds.
    def recv_msg(timeout: nil, &block)
      m = @handle.use { |h| FQ.retrying(timeout) { |ms| Ext.fq_recv_msg(h, ms) } }
      Message.new(m).use(&block)
    end

    # Receives one message under a lease of `lease` seconds (nil: the queue's
    # policy, 30 s by default): at least once. Settle it (ack, retry, fail,
    # dead_letter) before the lease runs out, or another receiver gets it.
    # With a block, yields the message and frees it after, giving an
    # unsettled lease back at once; returns the block's value. Raises
    # FQ::Timeout (a Timeout::Error) after `timeout` seconds.
    def lease(lease: nil, timeout: nil, &block)
      lease_ms = lease.nil? ? -1 : (lease * 1000).ceil
      m = @handle.use { |h| FQ.retrying(timeout) { |ms| Ext.fq_lease(h, lease_ms, ms) } }
      Message.new(m).use(&block)
    end

    # The queue's retry policy, shared by every process using it.
    def policy
      p = Ext::Fq_policy.new
      @handle.use { |h| Ext.fq_get_policy(h, p) }
      Policy.new(**Policy.members.to_h { |f| [f, p.send(f)] })
    end

    # Changes the given fields of the policy (FQ::Policy's names) for every
    # process of the queue; returns the new policy.
    def set_policy(**fields)
      unknown = fields.keys - Policy.members
      raise ArgumentError, "unknown policy fields #{unknown}; known: #{Policy.members}" if unknown.any?

      p = Ext::Fq_policy.new
      @handle.use do |h|
        Ext.fq_get_policy(h, p)
        fields.each { |k, v| p.send(:"#{k}=", v) }
        Ext.fq_set_policy(h, p)
      end
      policy
    end

    # For a dead-letter queue (say jobs.fifo.dlq): moves every message in it
    # to the queue at `to`, or back to the queue each came from, attempts
    # reset. Returns how many moved.
    def redrive(to: nil)
      to &&= File.path(to)
      @handle.use { |h| Ext.fq_redrive(h, to) }
    end

    # The queue's counters and limits, shared by every process (a Hash).
    def stats
      s = Ext::Fq_stats.new
      @handle.use { |h| Ext.fq_get_stats(h, s) }
      STATS_FIELDS.to_h { |f| [f, s.send(f)] }
    end

    # The counters of fq_stats, read from the SWIG class rather than listed again.
    STATS_FIELDS = (Ext::Fq_stats.public_instance_methods(false).grep(/\A[a-z_]+\z/) - [:size]).sort
    private_constant :STATS_FIELDS

    private

    def wait_time(non_block, timeout)
      raise ArgumentError, "can't set a timeout if non_block is enabled" if non_block && timeout

      non_block ? 0 : timeout
    end
  end

  # A queue's retry policy. The delay before attempt n+1 is
  # min(backoff_cap_ms, backoff_base_ms * backoff_factor**(n-1)), less up to
  # jitter_pct percent; after max_attempts deliveries a failure dead-letters.
  Policy = Struct.new(:max_attempts, :lease_ms, :backoff_base_ms, :backoff_cap_ms,
                      :backoff_factor, :jitter_pct, keyword_init: true)

  # A received message and its history. Settle a leased one with ack, retry,
  # fail or dead_letter; close frees it, giving an unsettled lease back to
  # the queue at once. Times are Time objects, nil when unset.
  class Message
    attr_reader :data, :attempts, :deaths, :first_death, :last_death, :enqueued,
                :not_before, :origin, :reason

    def initialize(m)
      @handle = Handle.new(m, :fq_msg_free, "message")
      @data = Ext.fq_msg_data(m)                    # the payload, ASCII-8BIT
      @attempts = Ext.fq_msg_attempts(m)            # deliveries so far, this one included
      @deaths = Ext.fq_msg_deaths(m)                # times dead-lettered
      @first_death = time(Ext.fq_msg_first_death_ms(m))
      @last_death = time(Ext.fq_msg_last_death_ms(m))
      @enqueued = time(Ext.fq_msg_enqueued_ms(m))   # entered a lease, retry or dead letter
      @not_before = time(Ext.fq_msg_not_before_ms(m)) # earliest time of its last retry
      @origin = Ext.fq_msg_origin(m).force_encoding(Encoding::UTF_8) # the queue it last failed on
      @reason = Ext.fq_msg_reason(m).force_encoding(Encoding::UTF_8) # why; "" if none
      @permanent = Ext.fq_msg_permanent(m)          # its last failure was permanent
    end

    def permanent?
      @permanent
    end

    # True while the queue holds the message for this receiver.
    def leased?
      @handle.use { |m| Ext.fq_msg_leased(m) }
    end

    # Done: the queue forgets the message. FQ::LeaseLost if the lease ran out.
    def ack
      @handle.use { |m| Ext.fq_ack(m) }
      nil
    end

    # Puts it back, not to be delivered for `delay` seconds.
    def retry(reason = nil, delay: 0)
      @handle.use { |m| Ext.fq_retry(m, reason, (delay * 1000).ceil) }
      nil
    end

    # Applies the queue's policy: retries after a growing delay, or
    # dead-letters it (after max_attempts, or when permanent). Returns the
    # delay in seconds, or nil when dead-lettered.
    def fail(reason = nil, permanent: false)
      flags = permanent ? Ext::FQ_PERMANENT : 0
      ms = @handle.use { |m| Ext.fq_fail(m, reason, flags) }
      ms.negative? ? nil : ms / 1000.0
    end

    # Sends it to the dead-letter queue (<path>.dlq) with its history.
    def dead_letter(reason = nil)
      @handle.use { |m| Ext.fq_dead_letter(m, reason) }
      nil
    end

    # Frees the message; an unsettled lease goes back to the queue now.
    def close
      @handle.close
    end

    def closed?
      @handle.closed?
    end

    # Yields self and closes after, returning the block's value; self without a block.
    def use
      return self unless block_given?

      begin
        yield self
      ensure
        close
      end
    end

    def inspect
      "#<FQ::Message #{@data.bytesize} bytes, attempts #{@attempts}>"
    end

    private

    def time(ms)
      ms.zero? ? nil : Time.at(ms / 1000r)
    end
  end
end
