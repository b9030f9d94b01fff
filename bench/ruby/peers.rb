# frozen_string_literal: true

# Ruby's peers: fq's FQ::Queue and a length-prefixed IO.pipe, each the way a
# user would write it. A channel is made in the runner before it forks; the
# children inherit it. An empty message is the end marker the runner sends
# each receiver once every sender is done. A variant of fq (a batch call, a
# zero-copy receive) is one more class here and one line in runner.rb.
require "fq"

module Bench
  # This peer cannot run this workload; the message says why.
  class NotAvailable < StandardError; end

  # FQ::Queue: push and pop, as Thread::Queue across processes.
  class FqQueue
    def initialize(path, _size, _senders, _receivers)
      @q = FQ::Queue.new(path)
    end

    def send_msg(data) = @q.push(data)
    def recv_msg = @q.pop
    def close = nil # the queue stays open until the runner is done

    def destroy
      path = @q.path
      @q.close
      FQ.unlink(path)
    end
  end

  # IO.pipe with a 4-byte length before each message: one write of both
  # (IO#write with several strings) and buffered reads, the pipe left at the
  # kernel's 64 KiB. An IO has no lock across processes, so each end belongs
  # to one process: no 4 x 4 run (as multiprocessing.Pipe in Python).
  class IoPipe
    def initialize(_path, _size, senders, receivers)
      raise NotAvailable, "one process per end (an IO has no lock across processes)" if senders > 1 || receivers > 1

      @r, @w = IO.pipe
      @r.binmode
      @w.binmode
    end

    def send_msg(data) = @w.write([data.bytesize].pack("L<"), data)

    def recv_msg
      len = @r.read(4).unpack1("L<")
      len.zero? ? +"" : @r.read(len)
    end

    def close = @w.flush

    def destroy
      @r.close
      @w.close
    end
  end
end
