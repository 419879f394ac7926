<?php
/**
 * The settings page (WooCommerce → Tally Loyalty) and its three forms: save the keys, connect
 * the store, disconnect it. Shop managers only (`manage_woocommerce`), each form with its nonce.
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** The settings page and its form handlers. */
final class Tally_Loyalty_Admin {
	const PAGE       = 'tally-loyalty';
	const CAPABILITY = 'manage_woocommerce';

	/** Hooks the page and the handlers in. */
	public static function register() {
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ) );
		add_action( 'admin_post_tally_loyalty_save', array( __CLASS__, 'handle_save' ) );
		add_action( 'admin_post_tally_loyalty_connect', array( __CLASS__, 'handle_connect' ) );
		add_action( 'admin_post_tally_loyalty_disconnect', array( __CLASS__, 'handle_disconnect' ) );
	}

	/** `admin_menu`. */
	public static function add_page() {
		add_submenu_page( 'woocommerce', __( 'Tally Loyalty', 'tally-loyalty' ), __( 'Tally Loyalty', 'tally-loyalty' ), self::CAPABILITY, self::PAGE, array( __CLASS__, 'render' ) );
	}

	/** Saves the form's settings. */
	public static function handle_save() {
		self::guard( 'tally_loyalty_save' );
		$input = isset( $_POST['tally_loyalty'] ) && is_array( $_POST['tally_loyalty'] ) ? wp_unslash( $_POST['tally_loyalty'] ) : array();
		list( $settings, $errors ) = Tally_Loyalty_Settings::validate( $input, Tally_Loyalty_Settings::get() );
		Tally_Loyalty_Settings::update( $settings );
		if ( array() === $errors ) {
			self::finish( 'success', array( __( 'Settings saved.', 'tally-loyalty' ) ) );
		}
		self::finish( 'error', $errors );
	}

	/** Connects the store to Tally. */
	public static function handle_connect() {
		self::guard( 'tally_loyalty_connect' );
		$settings = Tally_Loyalty_Settings::get();
		if ( '' === $settings['tally_url'] || '' === $settings['api_key'] ) {
			self::finish( 'error', array( __( 'Save the Tally address and the secret API key first.', 'tally-loyalty' ) ) );
		}
		$connector = new Tally_Loyalty_Connector( new Tally_Loyalty_Client( $settings['tally_url'], $settings['api_key'] ) );
		$connected = $connector->connect( $settings );
		if ( is_wp_error( $connected ) ) {
			$data = $connected->get_error_data();
			if ( is_array( $data ) && isset( $data['settings'] ) ) {
				Tally_Loyalty_Settings::update( $data['settings'] );
			}
			self::finish( 'error', array( $connected->get_error_message() ) );
		}
		Tally_Loyalty_Settings::update( $connected );
		/* translators: %d: how many webhooks were created */
		self::finish( 'success', array( sprintf( __( 'Connected: WooCommerce now sends orders, refunds and new customers to Tally (%d webhooks).', 'tally-loyalty' ), count( $connected['webhook_ids'] ) ) ) );
	}

	/** Removes the connection and its webhooks. */
	public static function handle_disconnect() {
		self::guard( 'tally_loyalty_disconnect' );
		$settings  = Tally_Loyalty_Settings::get();
		$connector = new Tally_Loyalty_Connector( new Tally_Loyalty_Client( $settings['tally_url'], $settings['api_key'] ) );
		$cleared   = $connector->disconnect( $settings );
		if ( is_wp_error( $cleared ) ) {
			self::finish( 'error', array( $cleared->get_error_message() ) );
		}
		Tally_Loyalty_Settings::update( $cleared );
		self::finish( 'success', array( __( 'Disconnected: the webhooks are removed and Tally no longer hears from this store.', 'tally-loyalty' ) ) );
	}

	/** The settings page. */
	public static function render() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$settings = Tally_Loyalty_Settings::get();
		$notice   = get_transient( self::notice_key() );
		delete_transient( self::notice_key() );
		$action = admin_url( 'admin-post.php' );
		echo '<div class="wrap"><h1>' . esc_html__( 'Tally Loyalty', 'tally-loyalty' ) . '</h1>';
		if ( is_array( $notice ) ) {
			foreach ( $notice['messages'] as $message ) {
				echo '<div class="notice notice-' . esc_attr( 'error' === $notice['kind'] ? 'error' : 'success' ) . '"><p>' . esc_html( $message ) . '</p></div>';
			}
		}
		echo '<p>' . esc_html__( 'Shows your loyalty program on every page of the store, signed in as the customer, and reports orders, refunds and new customers to Tally.', 'tally-loyalty' ) . '</p>';

		echo '<h2>' . esc_html__( '1. Keys', 'tally-loyalty' ) . '</h2>';
		echo '<p>' . esc_html__( 'In the Tally console, open your program\'s Install & API keys page: create a secret API key and reveal the widget secret.', 'tally-loyalty' ) . '</p>';
		echo '<form method="post" action="' . esc_url( $action ) . '"><input type="hidden" name="action" value="tally_loyalty_save">';
		wp_nonce_field( 'tally_loyalty_save' );
		echo '<table class="form-table" role="presentation">';
		self::field( 'tally_url', __( 'Tally address', 'tally-loyalty' ), 'url', $settings['tally_url'], __( 'Where your Tally server is, e.g. https://loyalty.example.com.', 'tally-loyalty' ) );
		self::field( 'api_key', __( 'Secret API key', 'tally-loyalty' ), 'password', '', '' !== $settings['api_key'] ? __( 'Saved. Leave blank to keep it.', 'tally-loyalty' ) : __( 'Starts with sk_. Stays on this server.', 'tally-loyalty' ) );
		self::field( 'widget_secret', __( 'Widget secret', 'tally-loyalty' ), 'password', '', '' !== $settings['widget_secret'] ? __( 'Saved. Leave blank to keep it.', 'tally-loyalty' ) : __( 'Signs each signed-in customer\'s token. Stays on this server.', 'tally-loyalty' ) );
		echo '</table>';
		submit_button( __( 'Save settings', 'tally-loyalty' ) );
		echo '</form>';

		echo '<h2>' . esc_html__( '2. Connect the store', 'tally-loyalty' ) . '</h2>';
		if ( '' !== $settings['connection_id'] ) {
			/* translators: 1: Tally's connection id, 2: how many webhooks */
			echo '<p><strong>' . esc_html( sprintf( __( 'Connected as %1$s with %2$d webhooks (WooCommerce → Settings → Advanced → Webhooks).', 'tally-loyalty' ), $settings['connection_id'], count( $settings['webhook_ids'] ) ) ) . '</strong></p>';
		} else {
			echo '<p>' . esc_html__( 'Not connected yet. Connecting creates WooCommerce webhooks for orders and new customers that send to Tally, signed with a secret only Tally and this store know.', 'tally-loyalty' ) . '</p>';
		}
		echo '<form method="post" action="' . esc_url( $action ) . '" style="display:inline-block;margin-right:8px"><input type="hidden" name="action" value="tally_loyalty_connect">';
		wp_nonce_field( 'tally_loyalty_connect' );
		submit_button( '' !== $settings['connection_id'] ? __( 'Connect again', 'tally-loyalty' ) : __( 'Connect', 'tally-loyalty' ), 'primary', 'submit', false );
		echo '</form>';
		if ( '' !== $settings['connection_id'] ) {
			echo '<form method="post" action="' . esc_url( $action ) . '" style="display:inline-block"><input type="hidden" name="action" value="tally_loyalty_disconnect">';
			wp_nonce_field( 'tally_loyalty_disconnect' );
			submit_button( __( 'Disconnect', 'tally-loyalty' ), 'secondary', 'submit', false );
			echo '</form>';
		}

		echo '<h2>' . esc_html__( '3. The widget', 'tally-loyalty' ) . '</h2>';
		if ( '' !== $settings['publishable_key'] ) {
			echo '<p>' . esc_html__( 'The widget is on every page of the store. Add the store\'s address to the program\'s allowed origins in the Tally console if it is not there yet.', 'tally-loyalty' ) . '</p>';
		} else {
			echo '<p>' . esc_html__( 'The widget appears on the store once the store is connected.', 'tally-loyalty' ) . '</p>';
		}
		echo '</div>';
	}

	/**
	 * One row of the settings form.
	 *
	 * @param string $name  The setting.
	 * @param string $label The label.
	 * @param string $type  The input's type.
	 * @param string $value Shown value ('' for secrets).
	 * @param string $help  The line under it.
	 */
	private static function field( $name, $label, $type, $value, $help ) {
		$id = 'tally-loyalty-' . $name;
		echo '<tr><th scope="row"><label for="' . esc_attr( $id ) . '">' . esc_html( $label ) . '</label></th><td>'
			. '<input class="regular-text" id="' . esc_attr( $id ) . '" name="tally_loyalty[' . esc_attr( $name ) . ']" type="' . esc_attr( $type ) . '" value="' . esc_attr( $value ) . '" autocomplete="off">'
			. '<p class="description">' . esc_html( $help ) . '</p></td></tr>';
	}

	/**
	 * Stops a form that is not a shop manager's own.
	 *
	 * @param string $nonce_action The form's nonce action.
	 */
	private static function guard( $nonce_action ) {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Only shop managers can change the Tally settings.', 'tally-loyalty' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $nonce_action );
	}

	/**
	 * Keeps the messages for the page and goes back to it.
	 *
	 * @param string   $kind     success or error.
	 * @param string[] $messages What to say.
	 */
	private static function finish( $kind, array $messages ) {
		set_transient( self::notice_key(), array( 'kind' => $kind, 'messages' => $messages ), 60 );
		wp_safe_redirect( admin_url( 'admin.php?page=' . self::PAGE ) );
		exit;
	}

	/** @return string The signed-in manager's notice, one per user. */
	private static function notice_key() {
		return 'tally_loyalty_notice_' . get_current_user_id();
	}
}
