package io.sipalr.control;

import io.sipalr.profile.ProfileValidationException;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/**
 * A request the API refuses: answered as {@code {"error": code, "message": message}} (plus
 * {@code field} when one field is at fault, and {@code index} when it is in one element of an
 * array body) with {@code status}. Messages name the culprit (path, id, field) and never quote
 * a password or the token.
 */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final transient HttpResponseStatus status;
  final String code;
  final String field;
  final transient Map<String, String> headers;
  /** For a request whose body is an array: the index of the element at fault, else null. */
  final Integer index;

  ApiException(HttpResponseStatus status, String code, String message) {
    this(status, code, message, null, Map.of());
  }

  ApiException(HttpResponseStatus status, String code, String message, String field,
      Map<String, String> headers) {
    this(status, code, message, field, headers, null);
  }

  private ApiException(HttpResponseStatus status, String code, String message, String field,
      Map<String, String> headers, Integer index) {
    super(message, null, false, false); // an answer, not a fault: no stack trace
    this.status = status;
    this.code = code;
    this.field = field;
    this.headers = Map.copyOf(headers);
    this.index = index;
  }

  /** The same refusal, of the element at {@code i} of the body's array. */
  ApiException at(int i) {
    return new ApiException(status, code, "element " + i + " of the array: " + getMessage(),
        field, headers, i);
  }

  static ApiException badRequest(String code, String message) {
    return new ApiException(HttpResponseStatus.BAD_REQUEST, code, message);
  }

  static ApiException invalidField(String field, String message) {
    return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_field", message, field,
        Map.of());
  }

  static ApiException notFound(String message) {
    return new ApiException(HttpResponseStatus.NOT_FOUND, "not_found", message);
  }

  static ApiException conflict(String code, String message) {
    return new ApiException(HttpResponseStatus.CONFLICT, code, message);
  }

  /** Quotes a client-supplied value for a message: escaped, and cut when long. */
  static String quote(String value) {
    return ProfileValidationException.quote(value);
  }
}
