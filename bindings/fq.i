/* fq.i — the one SWIG interface to fq.h, shared by every language.
 *
 * The low-level module mirrors the C API one to one (same names, timeouts in
 * milliseconds); each language's hand-written layer makes it idiomatic.
 *
 * Shared below: which declarations are wrapped, out-parameters that become
 * results, and option structs that start from their FQ_*_INIT value.
 * Per language (#ifdef SWIGPYTHON / SWIGRUBY): the status typemap that turns
 * a negative FQ_E* code into an exception, buffers passed without copying,
 * and what a signal does. bindings/README.md explains each choice.
 */
#if defined(SWIGPYTHON)
%module(package="fq") _fq
#elif defined(SWIGRUBY)
%module "FQ::Ext" /* built with -initname fq_ext: require "fq/fq_ext" */
#endif

%{
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fq.h"
%}

%include <stdint.i>
%include <typemaps.i>

/* ---- Shared ---------------------------------------------------------- */

/* Handles come back from the out-parameter of the call that makes them.
 * The pointer objects do not own them: the language layer closes or frees
 * each exactly once (fq_close, fq_msg_free, fq_dead_close). */
%define FQ_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *handle = NULL) "$1 = &handle;"
%typemap(argout) TYPE **out {
  %append_output(SWIG_NewPointerObj(SWIG_as_voidptr(handle$argnum), $descriptor(TYPE *), 0));
}
%enddef
FQ_OUT_HANDLE(fq_queue)
FQ_OUT_HANDLE(fq_msg)
FQ_OUT_HANDLE(fq_dead_log)

/* Counts come back as integers. */
%apply size_t *OUTPUT { size_t *len, size_t *moved };
%typemap(in, numinputs=0) int64_t *retry_ms (int64_t ms = 0) "$1 = &ms;"
%typemap(argout, fragment=SWIG_From_frag(long long)) int64_t *retry_ms {
  %append_output(SWIG_From(long long)((long long)ms$argnum));
}

/* Option structs: a new one holds the FQ_*_INIT defaults (and its size),
 * so only the fields the caller sets differ. */
%immutable fq_opts::size;
%immutable fq_stats::size;
%immutable fq_policy::size;
%extend fq_opts {
  fq_opts() {
    fq_opts init = FQ_OPTS_INIT, *o = (fq_opts *)malloc(sizeof *o);
    if (o) *o = init;
    return o;
  }
}
%extend fq_stats {
  fq_stats() {
    fq_stats init = FQ_STATS_INIT, *s = (fq_stats *)malloc(sizeof *s);
    if (s) *s = init;
    return s;
  }
}
%extend fq_policy {
  fq_policy() {
    fq_policy init = FQ_POLICY_INIT, *p = (fq_policy *)malloc(sizeof *p);
    if (p) *p = init;
    return p;
  }
}

/* ---- Python ---------------------------------------------------------- */
#if defined(SWIGPYTHON)

%{
/* Sets the fq exception for a negative FQ_E* code. The classes are in
 * fq/_errors.py, generated from core/errors.def: one table, no copy here.
 * On FQ_EINTR the Python signal handlers run first, so Ctrl-C raises
 * KeyboardInterrupt; if no handler raises, fq.Interrupted tells the caller
 * to retry with the time left (the fq package does, in fq._retrying). */
static void fq_py_raise(int code) {
  int sys_errno = errno; /* the cause of FQ_ESYS, before anything else runs */
  PyObject *errors, *exc;
  if (code == FQ_EINTR && PyErr_CheckSignals() < 0) return;
  errors = PyImport_ImportModule("fq._errors");
  if (!errors) return;
  exc = PyObject_CallMethod(errors, "_from_code", "ii", code, sys_errno);
  Py_DECREF(errors);
  if (!exc) return;
  PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
  Py_DECREF(exc);
}
%}

/* The status type: every int an fq function returns is 0 or a negative
 * FQ_E* code (fq.h, "Conventions"), so this one typemap maps all of them;
 * success is None, or the out-parameters' values. The three ints that are
 * not statuses are named below it. */
%typemap(out) int {
  if ($1 < 0) {
    fq_py_raise($1);
    SWIG_fail;
  }
  $result = SWIG_Py_Void();
}
%typemap(out) int fq_version "$result = PyLong_FromLong($1);"
%typemap(out) int fq_msg_permanent, int fq_msg_leased "$result = PyBool_FromLong($1);"

/* A message's payload as bytes (one copy; the fq_msg is freed later). */
%typemap(out) const void *fq_msg_data {
  $result = PyBytes_FromStringAndSize((const char *)$1, (Py_ssize_t)fq_msg_size(arg1));
}

/* Buffers: anything with the buffer protocol (bytes, bytearray, memoryview,
 * NumPy arrays), used in place. The Py_buffer is held until freearg, after
 * the call, so the memory stays put while the call runs without the GIL
 * (SWIG's stock %pybuffer_binary releases it before the call). */
%typemap(in) (const void *data, size_t len) (Py_buffer view, int have_view = 0) {
  if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0) SWIG_fail;
  have_view = 1;
  $1 = view.buf;
  $2 = (size_t)view.len;
}
%typemap(freearg) (const void *data, size_t len) {
  if (have_view$argnum) PyBuffer_Release(&view$argnum);
}
%typemap(in) (void *buf, size_t cap) (Py_buffer view, int have_view = 0) {
  if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0) SWIG_fail;
  have_view = 1;
  $1 = view.buf;
  $2 = (size_t)view.len;
}
%typemap(freearg) (void *buf, size_t cap) {
  if (have_view$argnum) PyBuffer_Release(&view$argnum);
}

/* A received payload as a buffer, without a copy: fq.Queue.get unpickles
 * NumPy arrays straight out of it, and a large payload is the sender's file
 * mapped in place (fq.h, fq_recv_msg). The object owns its fq_msg and frees
 * it when the last view of it is gone. Writable: a large payload's mapping is
 * private, so a write copies the page it touches and nobody else sees it. */
%{
typedef struct {
  PyObject_HEAD
  fq_msg *msg;
} fq_py_payload;

static void fq_py_payload_dealloc(PyObject *self) {
  fq_msg_free(((fq_py_payload *)self)->msg);
  PyObject_Free(self);
}

static int fq_py_payload_getbuffer(PyObject *self, Py_buffer *view, int flags) {
  fq_msg *m = ((fq_py_payload *)self)->msg;
  return PyBuffer_FillInfo(view, self, (void *)fq_msg_data(m), (Py_ssize_t)fq_msg_size(m), 0,
                           flags);
}

static PyBufferProcs fq_py_payload_buffer = {fq_py_payload_getbuffer, NULL};

static PyTypeObject fq_py_payload_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fq._fq.Payload",
    .tp_basicsize = sizeof(fq_py_payload),
    .tp_dealloc = fq_py_payload_dealloc,
    .tp_as_buffer = &fq_py_payload_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A received message's payload; use it through memoryview().",
};

/* fq_recv_msg without the GIL, the message wrapped as a Payload. */
static PyObject *fq_py_recv_payload(fq_queue *q, int timeout_ms) {
  fq_msg *m = NULL;
  fq_py_payload *p;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = fq_recv_msg(q, &m, timeout_ms);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    fq_py_raise(rc);
    return NULL;
  }
  p = PyObject_New(fq_py_payload, &fq_py_payload_type);
  if (!p) {
    fq_msg_free(m);
    return NULL;
  }
  p->msg = m;
  return (PyObject *)p;
}
%}
%init %{
  if (PyType_Ready(&fq_py_payload_type) < 0) return NULL;
%}
%nothread fq_py_recv_payload;
PyObject *fq_py_recv_payload(fq_queue *q, int timeout_ms);

/* fq_recv_many as a list of bytes: up to `max` messages, `cap` bytes in all.
 * A first message larger than cap raises fq.BufferTooSmall and stays queued. */
%{
static PyObject *fq_py_recv_many(fq_queue *q, size_t max, size_t cap, int timeout_ms) {
  char *buf = (char *)PyMem_Malloc(cap ? cap : 1);
  size_t *lens = (size_t *)PyMem_Malloc((max ? max : 1) * sizeof *lens);
  size_t count = 0, i, off = 0;
  PyObject *list = NULL;
  int rc;
  if (!buf || !lens) {
    PyErr_NoMemory();
    goto done;
  }
  Py_BEGIN_ALLOW_THREADS
  rc = fq_recv_many(q, buf, cap, lens, max, &count, timeout_ms);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    fq_py_raise(rc);
    goto done;
  }
  list = PyList_New((Py_ssize_t)count);
  for (i = 0; list && i < count; off += lens[i], ++i) {
    PyObject *b = PyBytes_FromStringAndSize(buf + off, (Py_ssize_t)lens[i]);
    if (!b) Py_CLEAR(list);
    else PyList_SET_ITEM(list, (Py_ssize_t)i, b);
  }
done:
  PyMem_Free(buf);
  PyMem_Free(lens);
  return list;
}
%}
%nothread fq_py_recv_many;
PyObject *fq_py_recv_many(fq_queue *q, size_t max, size_t cap, int timeout_ms);

/* fq_send_many: a sequence of buffers, each one message. */
%typemap(in) (const struct iovec *msgs, size_t count)
    (PyObject *seq = NULL, Py_buffer *views = NULL, Py_ssize_t held = 0) {
  Py_ssize_t i, n;
  struct iovec *iov;
  seq = PySequence_Fast($input, "fq_send_many: expected a sequence of buffers");
  if (!seq) SWIG_fail;
  n = PySequence_Fast_GET_SIZE(seq);
  views = (Py_buffer *)PyMem_Calloc(n ? n : 1, sizeof *views);
  iov = (struct iovec *)PyMem_Calloc(n ? n : 1, sizeof *iov);
  $1 = iov;
  if (!views || !iov) {
    PyErr_NoMemory();
    SWIG_fail;
  }
  for (i = 0; i < n; ++i) {
    if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), &views[i], PyBUF_SIMPLE) < 0)
      SWIG_fail;
    held = i + 1;
    iov[i].iov_base = views[i].buf;
    iov[i].iov_len = (size_t)views[i].len;
  }
  $2 = (size_t)n;
}
%typemap(freearg) (const struct iovec *msgs, size_t count) {
  Py_ssize_t i;
  for (i = 0; i < held$argnum; ++i) PyBuffer_Release(&views$argnum[i]);
  PyMem_Free(views$argnum);
  PyMem_Free((void *)$1);
  Py_XDECREF(seq$argnum);
}
/* It returns how many went; on an error, the exception's `sent` says. */
%typemap(in, numinputs=0) size_t *sent (size_t n = 0) "$1 = &n;"
%typemap(out) int fq_send_many {
  if ($1 < 0) {
    PyObject *type, *value, *tb, *sent;
    fq_py_raise($1);
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    sent = PyLong_FromSize_t(*arg4);
    if (value && sent) PyObject_SetAttrString(value, "sent", sent);
    Py_XDECREF(sent);
    PyErr_Restore(type, value, tb);
    SWIG_fail;
  }
  $result = PyLong_FromSize_t(*arg4);
}
%ignore fq_recv_many; /* fq_py_recv_many instead */


/* fq_sendv: a sequence of buffers becomes one message, gathered by the
 * kernel (writev) or copied once into shared memory, never joined here. */
%typemap(in) (const struct iovec *iov, int iovcnt)
    (PyObject *seq = NULL, Py_buffer *views = NULL, Py_ssize_t held = 0) {
  Py_ssize_t i, n;
  struct iovec *iov;
  seq = PySequence_Fast($input, "fq_sendv: expected a sequence of buffers");
  if (!seq) SWIG_fail;
  n = PySequence_Fast_GET_SIZE(seq);
  if (n > INT_MAX) SWIG_exception_fail(SWIG_ValueError, "fq_sendv: too many buffers");
  views = (Py_buffer *)PyMem_Calloc(n ? n : 1, sizeof *views);
  iov = (struct iovec *)PyMem_Calloc(n ? n : 1, sizeof *iov);
  $1 = iov;
  if (!views || !iov) {
    PyErr_NoMemory();
    SWIG_fail;
  }
  for (i = 0; i < n; ++i) {
    if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), &views[i], PyBUF_SIMPLE) < 0)
      SWIG_fail;
    held = i + 1;
    iov[i].iov_base = views[i].buf;
    iov[i].iov_len = (size_t)views[i].len;
  }
  $2 = (int)n;
}
%typemap(freearg) (const struct iovec *iov, int iovcnt) {
  Py_ssize_t i;
  for (i = 0; i < held$argnum; ++i) PyBuffer_Release(&views$argnum[i]);
  PyMem_Free(views$argnum);
  PyMem_Free((void *)$1);
  Py_XDECREF(seq$argnum);
}

/* ---- Ruby ------------------------------------------------------------ */
#elif defined(SWIGRUBY)

/* Blocking calls run without the GVL, so other Ruby threads go on. Ruby
 * interrupts them (Thread#kill, Thread#raise, Ctrl-C) through RUBY_UBF_IO,
 * as it does a blocking read: a signal to the thread, which fq turns into
 * FQ_EINTR. The _gvl2 variant, because it does not run interrupts after a
 * call that succeeded (a received message would be lost with it); the
 * status typemap runs them on FQ_EINTR. If an interrupt is already pending,
 * the call is not made and returns FQ_EINTR.
 * The wrappers call fq_rb_<name> through the #define after each: arguments
 * are copied into a struct for the callback that runs without the GVL. */
%{
#include <ruby/thread.h>

#define FQ_RB_BLOCKING2(name, T1, T2)                                        \
  struct fq_rb_##name { T1 a1; T2 a2; int rc; };                             \
  static void *fq_rb_##name##_run(void *p) {                                 \
    struct fq_rb_##name *c = (struct fq_rb_##name *)p;                       \
    c->rc = name(c->a1, c->a2);                                              \
    return NULL;                                                             \
  }                                                                          \
  static int fq_rb_##name(T1 a1, T2 a2) {                                    \
    struct fq_rb_##name c = {a1, a2, FQ_EINTR};                              \
    rb_thread_call_without_gvl2(fq_rb_##name##_run, &c, RUBY_UBF_IO, NULL);  \
    return c.rc;                                                             \
  }
#define FQ_RB_BLOCKING3(name, T1, T2, T3)                                    \
  struct fq_rb_##name { T1 a1; T2 a2; T3 a3; int rc; };                      \
  static void *fq_rb_##name##_run(void *p) {                                 \
    struct fq_rb_##name *c = (struct fq_rb_##name *)p;                       \
    c->rc = name(c->a1, c->a2, c->a3);                                       \
    return NULL;                                                             \
  }                                                                          \
  static int fq_rb_##name(T1 a1, T2 a2, T3 a3) {                             \
    struct fq_rb_##name c = {a1, a2, a3, FQ_EINTR};                          \
    rb_thread_call_without_gvl2(fq_rb_##name##_run, &c, RUBY_UBF_IO, NULL);  \
    return c.rc;                                                             \
  }
#define FQ_RB_BLOCKING4(name, T1, T2, T3, T4)                                \
  struct fq_rb_##name { T1 a1; T2 a2; T3 a3; T4 a4; int rc; };               \
  static void *fq_rb_##name##_run(void *p) {                                 \
    struct fq_rb_##name *c = (struct fq_rb_##name *)p;                       \
    c->rc = name(c->a1, c->a2, c->a3, c->a4);                                \
    return NULL;                                                             \
  }                                                                          \
  static int fq_rb_##name(T1 a1, T2 a2, T3 a3, T4 a4) {                      \
    struct fq_rb_##name c = {a1, a2, a3, a4, FQ_EINTR};                      \
    rb_thread_call_without_gvl2(fq_rb_##name##_run, &c, RUBY_UBF_IO, NULL);  \
    return c.rc;                                                             \
  }

FQ_RB_BLOCKING3(fq_send, fq_queue *, const void *, size_t)
#define fq_send fq_rb_fq_send
FQ_RB_BLOCKING4(fq_send_timeout, fq_queue *, const void *, size_t, int)
#define fq_send_timeout fq_rb_fq_send_timeout
FQ_RB_BLOCKING3(fq_next_size, fq_queue *, size_t *, int)
#define fq_next_size fq_rb_fq_next_size
FQ_RB_BLOCKING3(fq_recv_msg, fq_queue *, fq_msg **, int)
#define fq_recv_msg fq_rb_fq_recv_msg
FQ_RB_BLOCKING4(fq_lease, fq_queue *, fq_msg **, int, int)
#define fq_lease fq_rb_fq_lease
FQ_RB_BLOCKING3(fq_redrive, fq_queue *, const char *, size_t *)
#define fq_redrive fq_rb_fq_redrive
FQ_RB_BLOCKING2(fq_join, fq_queue *, int)
#define fq_join fq_rb_fq_join

/* Raises the fq exception for a negative FQ_E* code. The classes are in
 * fq/errors.rb, generated from core/errors.def: one table, no copy here.
 * On FQ_EINTR Ruby runs its pending interrupts first, so Ctrl-C raises
 * Interrupt and Thread#kill ends the thread; if none raises (a trap handler
 * that returned, the GVL's own wakeups), FQ::Interrupted tells the caller to
 * retry with the time left (the fq library does, in FQ.retrying). */
static void fq_rb_raise(int code) {
  int sys_errno = errno; /* the cause of FQ_ESYS, before anything else runs */
  if (code == FQ_EINTR) rb_thread_check_ints();
  rb_exc_raise(rb_funcall(rb_path2class("FQ"), rb_intern("error"), 2, INT2NUM(code),
                          INT2NUM(sys_errno)));
}

/* A frozen String with the bytes of `value` (a String, or what to_str gives),
 * for a call that reads them without the GVL: another thread that changes
 * the original gets its own copy, so these bytes stay put. No bytes are
 * copied for a String that is already frozen or not embedded. */
static VALUE fq_rb_pinned(VALUE value) {
  StringValue(value);
  return rb_str_new_frozen(value);
}
%}

%init %{
  /* The exceptions fq_rb_raise looks up. */
  rb_require("fq/errors");
%}

/* The status type: every int an fq function returns is 0 or a negative
 * FQ_E* code (fq.h, "Conventions"), so this one typemap maps all of them;
 * success is nil, or the out-parameters' values. No typemap in this section
 * needs a freearg (memory is the GC's), so raising here leaks nothing. The
 * three ints that are not statuses are named below it. */
%typemap(out) int {
  if ($1 < 0) fq_rb_raise($1);
  $result = Qnil;
}
%typemap(out) int fq_version "$result = INT2NUM($1);"
%typemap(out) int fq_msg_permanent, int fq_msg_leased "$result = $1 ? Qtrue : Qfalse;"

/* A message's payload as a binary String (ASCII-8BIT; one copy). */
%typemap(out) const void *fq_msg_data {
  $result = rb_str_new((const char *)$1, (long)fq_msg_size(arg1));
}

/* Buffers: a String's bytes, whatever its encoding, read in place from a
 * frozen copy (fq_rb_pinned) kept on the stack for the call. */
%typemap(in) (const void *data, size_t len) (VALUE pinned = Qnil) {
  pinned = fq_rb_pinned($input);
  $1 = RSTRING_PTR(pinned);
  $2 = (size_t)RSTRING_LEN(pinned);
}
%typemap(freearg) (const void *data, size_t len) "RB_GC_GUARD(pinned$argnum);"

/* Paths and reasons: a String without NUL bytes (ArgumentError otherwise),
 * copied (they are short) so the copy is NUL-terminated and no other thread
 * can change it; nil is NULL (no reason; fq_redrive's "back to where each
 * came from"). */
%typemap(in) const char * (VALUE pinned = Qnil) {
  if (NIL_P($input)) {
    $1 = NULL;
  } else {
    VALUE s = $input;
    StringValue(s);
    if (memchr(RSTRING_PTR(s), 0, (size_t)RSTRING_LEN(s)))
      rb_raise(rb_eArgError, "string contains null byte");
    pinned = rb_str_new(RSTRING_PTR(s), RSTRING_LEN(s));
    $1 = RSTRING_PTR(pinned);
  }
}
%typemap(freearg) const char * "RB_GC_GUARD(pinned$argnum);"

/* Ruby class names are capitalised: say so, rather than have SWIG warn. */
%rename("Fq_opts") fq_opts;
%rename("Fq_stats") fq_stats;
%rename("Fq_policy") fq_policy;

/* Not wrapped for Ruby: receiving into a caller's String without the GVL
 * races other threads that resize it, and an Array of Strings for fq_sendv
 * cannot keep short (embedded) Strings from moving. The Ruby layer receives
 * with fq_recv_msg / fq_lease and sends one String with fq_send_timeout.
 * The batch calls (fq_send_many, fq_recv_many) are left out for the same
 * reasons. */
%ignore fq_recv;
%ignore fq_recv_timeout;
%ignore fq_sendv;
%ignore fq_send_many;
%ignore fq_recv_many;

#endif

/* ---- The C API ------------------------------------------------------- */
%include "fq.h"
