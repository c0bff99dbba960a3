// lib/stream_token_service.dart
import 'dart:async';
import 'dart:convert';
import 'dart:math';

import 'package:http/http.dart' as http;
import 'package:http_parser/http_parser.dart' show parseHttpDate;

/// Why a Stream token could not be had. [code] is the service's stable problem code
/// (docs/errors.md: `token_expired`, `forbidden`, `rate_limited`, ...) or one of the client's own:
/// `missing_token` (signed out; no request sent), `network_error`, `http_error` (an error page
/// without a problem document), `invalid_response`, `user_mismatch`.
class StreamTokenException implements Exception {
  StreamTokenException(this.code, {this.status, this.requestId, this.detail, this.retryAfter});

  final String code;

  /// HTTP status; null when no answer arrived.
  final int? status;

  /// The service's request id; finds the request in its logs.
  final String? requestId;
  final String? detail;

  /// How long the service asked to wait (`Retry-After`).
  final Duration? retryAfter;

  /// 401 or 403: the session was refused; retrying the same session will not help.
  bool get isAuthFailure => status == 401 || status == 403;

  @override
  String toString() =>
      'StreamTokenException(${status ?? '-'} $code${detail == null ? '' : ': $detail'}'
      '${requestId == null ? '' : ', request $requestId'})';
}

class StreamTokenResult {
  StreamTokenResult({required this.token, required this.userId, required this.apiKey, required this.expiresAt});

  final String token;
  final String userId;
  final String apiKey;
  final DateTime expiresAt;
}

class StreamTokenService {
  StreamTokenService({
    required String endpoint,
    required this.getSessionToken,
    this.onAuthFailure,
    http.Client? httpClient,
    this.retries = 3,
    this.baseDelay = const Duration(milliseconds: 500),
    this.maxDelay = const Duration(seconds: 10),
    this.timeout = const Duration(seconds: 15),
  })  : tokenUri = _tokenUri(endpoint),
        _http = httpClient ?? http.Client();

  /// `https://chat-auth.example.com` or the full `.../stream/token` URL.
  final Uri tokenUri;

  /// The identity provider's current session token; null when signed out.
  final Future<String?> Function() getSessionToken;

  /// Called with every 401/403, including refreshes late in a session, so the app can sign out.
  final void Function(StreamTokenException error)? onAuthFailure;

  final int retries;
  final Duration baseDelay;
  final Duration maxDelay;
  final Duration timeout;

  final http.Client _http;
  final Random _random = Random();
  Future<StreamTokenResult>? _inFlight;

  static Uri _tokenUri(String endpoint) {
    final base = endpoint.trim().replaceAll(RegExp(r'/+$'), '');
    return Uri.parse(base.endsWith('/stream/token') ? base : '$base/stream/token');
  }

  /// For `client.connectUserWithProvider(user, tokens.tokenProvider)`.
  Future<String> tokenProvider(String userId) async {
    final result = await fetch();
    if (result.userId != userId) {
      throw StreamTokenException('user_mismatch',
          detail: 'the session belongs to "${result.userId}", not "$userId"; connect with the signed-in user\'s id');
    }
    return result.token;
  }

  /// A fresh Stream token with its details. Calls made while one is in flight share it.
  Future<StreamTokenResult> fetch() {
    final pending = _inFlight;
    if (pending != null) return pending;
    final started = _fetchWithRetries().whenComplete(() => _inFlight = null);
    _inFlight = started;
    return started;
  }

  void close() => _http.close();

  Future<StreamTokenResult> _fetchWithRetries() async {
    for (var attempt = 0;; attempt++) {
      try {
        return await _fetchOnce();
      } on StreamTokenException catch (error) {
        if (error.isAuthFailure) onAuthFailure?.call(error);
        final status = error.status;
        final retryable = error.code == 'network_error' || status == 429 || (status != null && status >= 500);
        final retryAfter = error.retryAfter;
        if (!retryable || attempt >= retries || (retryAfter != null && retryAfter > maxDelay)) rethrow;
        final backoff = _backoff(attempt);
        await Future<void>.delayed(retryAfter != null && retryAfter > backoff ? retryAfter : backoff);
      }
    }
  }

  /// Half the capped exponential step plus up to half again at random.
  Duration _backoff(int attempt) {
    final step = min(maxDelay.inMilliseconds, baseDelay.inMilliseconds * (1 << attempt));
    return Duration(milliseconds: step ~/ 2 + _random.nextInt(step ~/ 2 + 1));
  }

  Future<StreamTokenResult> _fetchOnce() async {
    final sessionToken = await getSessionToken();
    if (sessionToken == null || sessionToken.isEmpty) {
      throw StreamTokenException('missing_token', detail: 'no session token: the user is signed out');
    }

    final http.Response response;
    try {
      response = await _http.post(tokenUri, headers: {
        'authorization': 'Bearer $sessionToken',
        'accept': 'application/json, application/problem+json',
      }).timeout(timeout);
    } on TimeoutException {
      throw StreamTokenException('network_error', detail: 'no answer within ${timeout.inSeconds} s');
    } on http.ClientException catch (error) {
      throw StreamTokenException('network_error', detail: error.message);
    }

    Map<String, dynamic>? body;
    try {
      final decoded = jsonDecode(utf8.decode(response.bodyBytes));
      if (decoded is Map<String, dynamic>) body = decoded;
    } on FormatException {
      body = null;
    }
    final requestId = body?['request_id'] as String? ?? response.headers['x-request-id'];

    if (response.statusCode >= 200 && response.statusCode < 300) {
      final token = body?['token'];
      final userId = body?['user_id'];
      final apiKey = body?['api_key'];
      final expiresAt = DateTime.tryParse(body?['expires_at'] as String? ?? '');
      if (token is String && userId is String && apiKey is String && expiresAt != null) {
        return StreamTokenResult(token: token, userId: userId, apiKey: apiKey, expiresAt: expiresAt);
      }
      throw StreamTokenException('invalid_response',
          status: response.statusCode, requestId: requestId, detail: 'not a token response; is the URL the token service?');
    }

    final code = body?['code'];
    throw StreamTokenException(
      code is String ? code : 'http_error',
      status: response.statusCode,
      requestId: requestId,
      detail: body?['detail'] as String? ?? body?['title'] as String?,
      retryAfter: _retryAfter(response.headers['retry-after']),
    );
  }

  /// `Retry-After` as delta-seconds or an HTTP date.
  static Duration? _retryAfter(String? value) {
    if (value == null) return null;
    final seconds = int.tryParse(value.trim());
    if (seconds != null) return Duration(seconds: seconds);
    try {
      final wait = parseHttpDate(value).difference(DateTime.now());
      return wait.isNegative ? Duration.zero : wait;
    } on FormatException {
      return null;
    }
  }
}
