#!/usr/bin/env ruby
# frozen_string_literal: true

# The seed's URL worker with a dead-letter queue (../shared/seeds/004,
# "Multiprocessing communication with FIFO queues"), on fq, in Ruby: the
# same program as examples/dead_letter.py.
#
# Same shape as the seed: a process waits on input.fifo and forks a worker
# per URL; the worker fetches the URL with Net::HTTP, parses the JSON and
# sends its "quote" to output.fifo; on error the URL goes to the dead-letter
# queue, which a second process works. fq's retry policy (Message#fail), not
# sleeps written here, retries after a growing delay, up to a maximum number
# of attempts, and dead-letters permanent errors (an invalid URL, an HTTP
# 4xx) at once. A worker killed in the middle of a request loses nothing: it
# holds its URL under a lease.
#
#   python3 examples/quote_server.py &                 # a local server: no internet needed
#   ruby -I build/bindings/ruby/lib examples/dead_letter.rb [--dir DIR] [URL...]
#   echo 'http://127.0.0.1:8000/quote' >> input.fifo   # from another shell
#   fqctl recv output.fifo                             # the quotes
#
# The queues are made in DIR (default: the current directory). URLs given on
# the command line are queued first, as the seed queues three. It runs until
# Ctrl-C or SIGTERM.
require "fq"
require "json"
require "net/http"
require "optparse"
require "uri"

# The dead-letter queue is fq's own input.fifo.dlq, as in dead_letter.py
# (which says why): fq_fail retries a URL inside input.fifo, where the
# policy's delay applies, and sends what it gives up on to "<queue>.dlq",
# with its history and a durable record in "<queue>.fq-dead".
INPUT_FIFO = "input.fifo"
OUTPUT_FIFO = "output.fifo"
DEADLETTER_FIFO = "#{INPUT_FIFO}.dlq"

# input.fifo's retry policy, shared by every process using the queue: 4
# attempts, retries after 0.25 s, 0.5 s, 1 s; no jitter, so the story is
# readable. The lease must outlast a request: HTTP_TIMEOUT is well below it.
POLICY = { max_attempts: 4, backoff_base_ms: 250, backoff_factor: 2.0, jitter_pct: 0,
           lease_ms: 30_000 }.freeze
HTTP_TIMEOUT = 10 # seconds; a request that times out is retried

# Retrying cannot help: an invalid URL, an HTTP 4xx, an answer with no quote.
class Permanent < StandardError; end

# The quote at `url`. Raises Permanent, or any other StandardError for a
# failure worth retrying (connection refused, HTTP 5xx, a timeout).
def fetch_quote(url)
  uri = begin
    URI.parse(url)
  rescue URI::InvalidURIError
    nil
  end
  raise Permanent, "invalid URL" unless uri.is_a?(URI::HTTP) && !uri.host.to_s.empty?

  res = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https",
                        open_timeout: HTTP_TIMEOUT, read_timeout: HTTP_TIMEOUT) do |http|
    http.get(uri.request_uri)
  end
  status = "HTTP #{res.code} #{res.message}"
  # 408 Request Timeout and 429 Too Many Requests pass with time.
  raise Permanent, status if res.is_a?(Net::HTTPClientError) && !%w[408 429].include?(res.code)
  raise status unless res.is_a?(Net::HTTPSuccess)

  quote = JSON.parse(res.body)["quote"]
  raise Permanent, "the answer has no quote" unless quote.is_a?(String)

  quote
rescue JSON::ParserError, TypeError
  raise Permanent, "the answer has no quote"
end

# Prints a line with one write(2): the processes share stdout, and a line
# written in two parts could let another process's line in between.
def say(text)
  $stdout.syswrite("#{text}\n")
end

# A payload (bytes) as text to print.
def text(data)
  data.dup.force_encoding(Encoding::UTF_8).scrub
end

# ---- The worker: one URL, in a forked process ------------------------------

# Takes the next URL under a lease, tells the dispatcher (pipe `tell`),
# fetches it and settles it. The worker takes the URL itself rather than
# being handed it: a lease belongs to the process that took it, so if this
# worker is killed fq sees the holder gone and gives the URL to the next
# worker (attempt + 1). A URL read by the dispatcher and handed down would be
# lost with the child.
def work(inq, out, tell)
  inq.lease do |m| # waits for a URL: new, due for its retry, or a killed worker's
    tell.write("+", m.data)
    tell.close
    url = text(m.data)
    say "Processing: #{url} PID: #{Process.pid} (attempt #{m.attempts})"
    begin
      quote = fetch_quote(url)
    rescue Permanent => e
      m.fail(e.message, permanent: true)
      say "Error processing #{url}: #{e.message}: permanent, sent to the dead letter queue " \
          "without retrying"
    rescue StandardError => e # anything else is worth a retry
      delay = m.fail(e.message) # fq's policy decides: retry later, or give up
      if delay
        say "Error processing #{url}: #{e.message}: retrying in #{format('%g', delay)} s"
      else
        say "Error processing #{url}: #{e.message}: attempt #{m.attempts} of " \
            "#{POLICY[:max_attempts]}, sent to the dead letter queue"
      end
    else
      # Sent, then acknowledged: a crash between the two sends the quote
      # twice, never loses it (at-least-once).
      out << quote
      m.ack
      say quote
    end
  end
end

# The forked child's whole life; never returns.
def run_worker(inq, out, tell)
  trap("CHLD", "SYSTEM_DEFAULT")
  trap("TERM", "SYSTEM_DEFAULT") # the dispatcher's Stop is not for workers
  code = 0
  begin
    work(inq, out, tell)
  rescue Interrupt
    code = 130 # Ctrl-C: the unsettled lease went back to the queue on the way out
  rescue StandardError => e
    # Tell the dispatcher why no URL was taken (the queue was removed...).
    tell.write("!", e.message) unless tell.closed?
    code = 1
  ensure
    inq.close
    out.close
    exit!(code) # not the parent's exit handlers
  end
end

# ---- The dispatcher: waits on input.fifo, a worker per URL ------------------

# SIGTERM: stop dispatching.
class Stop < StandardError; end

# The seed's process_queue: for each URL on input.fifo, a forked worker. One
# worker at a time waits on the queue; once it has taken a URL, the next one
# is forked.
class Dispatcher
  def initialize(inq, out)
    @inq = inq
    @out = out
    @urls = {} # busy worker pid => the URL it took
    @waiting = nil # the worker still waiting for a URL
  end

  def run
    say "Waiting for messages in the process queue (#{@inq.path}: up to " \
        "#{POLICY[:max_attempts]} attempts, retries after " \
        "#{format('%g', POLICY[:backoff_base_ms] / 1000.0)} s, doubling)"
    trap("CHLD") { reap }
    loop do
      r, w = IO.pipe
      @waiting = fork do
        r.close
        run_worker(@inq, @out, w)
      end
      w.close
      took = begin
        r.read.b # until the worker has a URL or is gone
      ensure
        r.close
      end
      pid, @waiting = @waiting, nil
      case took[0]
      when "+" then @urls[pid] = text(took[1..])
      when "!" then raise "a worker could not take a URL: #{text(took[1..])}"
      end
      # Nothing: the waiting worker was killed before it took one; fork another.
    end
  end

  # Stops the worker waiting for a URL (it holds none; if it had just taken
  # one, its lease gives it back) and lets the busy ones finish.
  def shut_down
    trap("CHLD", "SYSTEM_DEFAULT")
    Process.kill(:TERM, @waiting) if @waiting
  rescue Errno::ESRCH
    nil
  end

  private

  # Reaps at once: a dead worker left as a zombie still exists for
  # kill(pid, 0), and fq would not give its URL to the next worker.
  def reap
    while (pid, status = Process.wait2(-1, Process::WNOHANG))
      url = @urls.delete(pid)
      next unless status.signaled? && url

      say "Worker #{pid} was killed (signal #{status.termsig}) while processing #{url}: " \
          "fq gives it to the next worker"
    end
  rescue Errno::ECHILD
    nil
  end
end

# ---- The dead-letter process ------------------------------------------------

# The seed's process_deadletter: works the dead-letter queue. The retries
# already happened in input.fifo, so what arrives here is parked: reported
# with its reason and taken off the queue. fq keeps the durable record in
# input.fifo.fq-dead (`fqctl dead input.fifo` lists it). It takes each under
# a lease too: killed here, the dead letter comes back. Returns the exit status.
def process_deadletter(dlq_path)
  FQ::Queue.open(dlq_path) do |dlq|
    say "Waiting for messages in the dead letter queue (#{dlq_path})"
    loop do # until the queue is removed: FQ::Closed is a StopIteration
      dlq.lease do |m|
        m.ack
        kind = m.permanent? ? "permanent" : "out of attempts"
        say "Dead Letter: #{text(m.data)} from #{File.basename(m.origin)}: #{m.reason} " \
            "(#{kind}): parked"
      end
    end
  end
  0
rescue Interrupt
  130
end

# ---- main -------------------------------------------------------------------

def main
  dir = "."
  OptionParser.new do |o|
    o.banner = "usage: dead_letter.rb [--dir DIR] [URL...]\n" \
               "The seed's URL worker on fq: retries by policy, dead letters, leases."
    o.on("--dir DIR", "where the queues are (default: here)") { |d| dir = d }
  end.parse!

  inq = FQ::Queue.new(File.join(dir, INPUT_FIFO))
  out = FQ::Queue.new(File.join(dir, OUTPUT_FIFO))
  inq.set_policy(**POLICY)
  ARGV.each { |url| inq << url } # the seed's push_to_fifo(url, INPUT_FIFO)

  dl_pid = fork do
    trap("TERM", "SYSTEM_DEFAULT")
    inq.close
    out.close
    exit!(process_deadletter(File.join(dir, DEADLETTER_FIFO)))
  end

  trap("TERM") { raise Stop }
  dispatcher = Dispatcher.new(inq, out)
  begin
    dispatcher.run
  rescue Stop, Interrupt
    nil
  ensure
    trap("TERM", "IGNORE")
    dispatcher.shut_down
    begin
      Process.kill(:TERM, dl_pid)
    rescue Errno::ESRCH
      nil
    end
    Process.waitall # the busy workers finish their URL
    inq.close
    out.close
  end
  say "Stopped"
  0
end

exit(main) if $PROGRAM_NAME == __FILE__
